# Locates every external dependency through pkg-config (Debian 12 packages;
# scripts/deps.sh installs them). Each becomes an IMPORTED target mt::<name>.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

function(mt_pkg target module)
  pkg_check_modules(${target} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  add_library(mt::${target} ALIAS PkgConfig::${target})
endfunction()

mt_pkg(rdkafka rdkafka)
mt_pkg(avro avro-c)
mt_pkg(jansson jansson)
mt_pkg(openssl openssl)
mt_pkg(hs libhs)         # Vectorscan (Hyperscan API): the masking engine's scanner
mt_pkg(pcre2 libpcre2-8) # confirms masking candidates and extracts their secret span
mt_pkg(deflate libdeflate) # inflates archive segment blocks (verify, replay): whole-buffer, ~2x zlib
mt_pkg(event libevent)
mt_pkg(event_openssl libevent_openssl)
mt_pkg(event_pthreads libevent_pthreads)
if(MT_TESTS)
  mt_pkg(cmocka cmocka)
endif()
