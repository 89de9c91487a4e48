# Sourced by scripts and tests that run approvals: Ed25519 key pairs and the
# trust file of mcptrail-approvals (docs/approvals.md "Who may vote").
#
#   mt_keypair DIR NAME
#       DIR/NAME.pem (PKCS#8 private key, mode 0600) and DIR/NAME.pub.pem.
#   mt_trust_file OUT ENTRY...
#       writes a trust file; each ENTRY is sidecar:NAME:PUBFILE or
#       bot:NAME:PUBFILE:SUBJECT:ISSUER:GROUP[,GROUP...]
# Needs openssl and jq.

mt_keypair() {
  mkdir -p "$1"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$1/$2.pem" 2>/dev/null) ||
    { echo "mt_keypair: openssl genpkey failed for $1/$2.pem" >&2; return 1; }
  openssl pkey -in "$1/$2.pem" -pubout -out "$1/$2.pub.pem"
}

mt_trust_file() {
  local out=$1 sidecars='[]' bots='[]' e kind name pub sub iss groups
  shift
  for e in "$@"; do
    IFS=: read -r kind name pub sub iss groups <<<"$e"
    case "$kind" in
    sidecar)
      sidecars=$(jq -c --arg n "$name" --arg f "$pub" '. + [{name: $n, public_key_file: $f}]' \
        <<<"$sidecars") ;;
    bot)
      bots=$(jq -c --arg n "$name" --arg f "$pub" --arg s "$sub" --arg i "$iss" --arg g "$groups" \
        '. + [{name: $n, public_key_file: $f, subject: $s, issuer: $i,
               groups: ($g | split(",") | map(select(length > 0)))}]' <<<"$bots") ;;
    *) echo "mt_trust_file: entry '$e' is not sidecar:... or bot:..." >&2; return 1 ;;
    esac
  done
  jq -n --argjson s "$sidecars" --argjson b "$bots" '{sidecars: $s, bots: $b}' >"$out"
}
