/* Prefix-anchored detectors for the token formats of public providers.
 *
 * Each row is one detector of the engine's Vectorscan database (compiled with
 * HS_FLAG_SOM_LEFTMOST like the built-in rows of mask_rules.c): a distinctive
 * literal prefix (or signature) and a bounded body, with the lengths a little
 * looser than the canonical ones and the body's own charset. Providers whose
 * tokens have no distinctive prefix (bare UUIDs or hex) are left to the keyed
 * readers (HEROKU_API_KEY=..., etc.).
 *
 * Fields of mask_provider:
 *   id         stable detector id and marker type, [a-z0-9_]+, unique among
 *              all detectors
 *   family     cloud vcs ci chat payments registry observability ai saas
 *              crypto_keys
 *   regex      the Vectorscan pattern (PCRE subset: no lookaround, no
 *              backreferences; bounded repeats); its match is the secret when
 *              pcre_regex is NULL. Most rows give Vectorscan only the prefix
 *              and ten body characters and PCRE2 the whole format: a long
 *              bounded repeat with start-of-match tracking costs the database
 *              compile time and size (150 full patterns took 0.5 s to compile)
 *   flags      0 or HS_FLAG_CASELESS (PCRE2 then runs PCRE2_CASELESS)
 *   pcre_regex NULL, or the PCRE2 pattern run anchored at the candidate's
 *              start (use_pcre): it extends an open-ended token past the
 *              bounded Vectorscan prefix, or drops the context around the
 *              secret; capture group 1, when present, is the masked span
 *   window     bytes PCRE2 may read past the Vectorscan end (pcre_regex set)
 *
 * Planted cases and decoys for every id: tests/lib/mask_provider_cases.h. */
#include <stddef.h>

#include "mask_internal.h"


#define F_CI HS_FLAG_CASELESS

const mask_provider mask_providers[] = {
    /* --- cloud ----------------------------------------------------------------- */
    /* DigitalOcean */
    {"digitalocean_token", "cloud",
     "\\bdo[opr]_v1_[a-fA-F0-9]{10}",
     0,
     "\\bdo[opr]_v1_[a-fA-F0-9]{56,72}", 512},
    /* Alibaba Cloud */
    {"alibaba_access_key_id", "cloud",
     "\\bLTAI[A-Za-z0-9]{10}",
     0,
     "\\bLTAI[A-Za-z0-9]{12,24}\\b", 512},
    /* Tencent Cloud */
    {"tencent_secret_id", "cloud",
     "\\bAKID[A-Za-z0-9]{10}",
     0,
     "\\bAKID[A-Za-z0-9]{28,40}\\b", 512},
    /* Yandex Cloud */
    {"yandex_api_key", "cloud",
     "\\bAQVN[A-Za-z0-9_-]{10}",
     0,
     "\\bAQVN[A-Za-z0-9_-]{32,44}", 512},
    /* Yandex Cloud */
    {"yandex_iam_token", "cloud",
     "\\bt1\\.[A-Za-z0-9_-]{10}",
     0,
     "\\bt1\\.[A-Za-z0-9_-]{20,256}={0,2}\\.[A-Za-z0-9_-]{80,96}={0,2}", 512},
    /* Fly.io */
    {"flyio_token", "cloud",
     "\\b(?:fo1_[A-Za-z0-9_-]{36,50}|fm[12][ar]?_[A-Za-z0-9+/]{64})",
     0,
     "(?:fo1_[A-Za-z0-9_-]{36,50}|fm[12][ar]?_[A-Za-z0-9+/]{64,}={0,3})", 4096},
    /* Heroku */
    {"heroku_api_key_v2", "cloud",
     "\\bHRKU-(?:AA[A-Za-z0-9_-]{50,66}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-"
        "F]{4}-[0-9a-fA-F]{12})",
     0, NULL, 0},
    /* Render */
    {"render_api_key", "cloud",
     "\\brnd_[A-Za-z0-9]{10}",
     0,
     "\\brnd_[A-Za-z0-9]{24,48}\\b", 512},
    /* Scalingo */
    {"scalingo_api_token", "cloud",
     "\\btk-us-[A-Za-z0-9_-]{10}",
     0,
     "\\btk-us-[A-Za-z0-9_-]{40,56}", 512},
    /* Cloudflare */
    {"cloudflare_origin_ca_key", "cloud",
     "\\bv1\\.0-[a-f0-9]{10}",
     0,
     "\\bv1\\.0-[a-f0-9]{24}-[a-f0-9]{140,150}", 512},
    /* Red Hat OpenShift */
    {"openshift_user_token", "cloud",
     "\\bsha256~[A-Za-z0-9_-]{10}",
     0,
     "\\bsha256~[A-Za-z0-9_-]{40,46}", 512},
    /* Akamai */
    {"akamai_edgegrid_token", "cloud",
     "\\bakab-[a-z0-9]{10}",
     0,
     "\\bakab-[a-z0-9]{16}-[a-z0-9]{16}\\b", 512},
    /* Neon */
    {"neon_api_key", "cloud",
     "\\bnapi_[A-Za-z0-9]{10}",
     0,
     "\\bnapi_[A-Za-z0-9]{40,80}\\b", 512},
    /* Deno Deploy */
    {"deno_deploy_token", "cloud",
     "\\bddp_[A-Za-z0-9]{10}",
     0,
     "\\bddp_[A-Za-z0-9]{30,44}\\b", 512},
    /* Scaleway */
    {"scaleway_access_key", "cloud",
     "\\bSCW[A-Z0-9]{10}",
     0,
     "\\bSCW[A-Z0-9]{17}\\b", 512},
    /* Backblaze B2 */
    {"backblaze_application_key", "cloud",
     "\\bK00[0-9][A-Za-z0-9+/]{10}",
     0,
     "\\bK00[0-9][A-Za-z0-9+/]{26}[A-Za-z0-9]\\b", 512},
    /* Google Cloud */
    {"gcp_oauth_refresh_token", "cloud",
     "\\b1//0[A-Za-z0-9_-]{40}",
     0,
     "1//0[A-Za-z0-9_-]{40,}", 512},
    /* Firebase Cloud Messaging */
    {"fcm_server_key", "cloud",
     "\\bAAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{10}",
     0,
     "\\bAAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{120,150}", 512},
    /* Amazon Bedrock */
    {"aws_bedrock_api_key", "cloud",
     "(?:^|[^A-Za-z0-9+/_-])(?:ABSK[A-Za-z0-9+/]{100}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3Mu"
        "Y29t[A-Za-z0-9+/%=_-]{20})",
     0,
     "(?:^|[^A-Za-z0-9+/_-])(ABSK[A-Za-z0-9+/]{100,}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25"
        "hd3MuY29t[A-Za-z0-9+/%=_-]{20,})", 4096},
    /* Microsoft Azure (DevOps PAT, identifiable keys) */
    {"azure_annotated_key", "cloud",
     "(?:^|[^A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za-"
        "z0-9]{7}",
     0,
     "(?:^|[^A-Za-z0-9])([A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}[A-Za-z][A-Za"
        "-z0-9]{7}(?:[A-Za-z0-9]{2}==)?)", 8},
    /* Azure AI Search */
    {"azure_search_key", "cloud",
     "(?:^|[^A-Za-z0-9+/])[A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5}",
     0,
     "(?:^|[^A-Za-z0-9+/])([A-Za-z0-9]{42}AzSe[A-D][A-Za-z0-9]{5})(?![A-Za-z0-9])", 8},
    /* Azure SAS / Logic Apps */
    {"azure_sas_signature", "cloud",
     "[?&]sig=[A-Za-z0-9%+/_-]{30}",
     0,
     "[?&]sig=([A-Za-z0-9%+/_-]{30,}={0,2})", 256},
    /* --- vcs ------------------------------------------------------------------- */
    /* GitLab */
    {"gitlab_deploy_token", "vcs",
     "\\bgldt-[A-Za-z0-9_-]{10}",
     0,
     "\\bgldt-[A-Za-z0-9_-]{20,64}", 512},
    /* GitLab */
    {"gitlab_scim_token", "vcs",
     "\\bglsoat-[A-Za-z0-9_-]{10}",
     0,
     "\\bglsoat-[A-Za-z0-9_-]{20,64}", 512},
    /* GitLab */
    {"gitlab_feature_flag_token", "vcs",
     "\\bglffct-[A-Za-z0-9_-]{10}",
     0,
     "\\bglffct-[A-Za-z0-9_-]{20,64}", 512},
    /* GitLab */
    {"gitlab_incoming_mail_token", "vcs",
     "\\bglimt-[A-Za-z0-9_-]{10}",
     0,
     "\\bglimt-[A-Za-z0-9_-]{25,64}", 512},
    /* GitLab */
    {"gitlab_agent_token", "vcs",
     "\\bglagent-[A-Za-z0-9_-]{10}",
     0,
     "\\bglagent-[A-Za-z0-9_-]{50,100}", 512},
    /* GitLab */
    {"gitlab_feed_token", "vcs",
     "\\bglft-[A-Za-z0-9_-]{10}",
     0,
     "\\bglft-[A-Za-z0-9_-]{20,64}", 512},
    /* GitLab */
    {"gitlab_oauth_app_secret", "vcs",
     "\\bgloas-[A-Za-z0-9_-]{10}",
     0,
     "\\bgloas-[A-Za-z0-9_-]{56,72}", 512},
    /* GitLab */
    {"gitlab_runner_token", "vcs",
     "\\b(?:glrt-|GR1348941)[A-Za-z0-9_-]{20}",
     0,
     "(?:glrt-|GR1348941)[A-Za-z0-9_-]{20,}(?:\\.[0-9a-z]{9})?", 512},
    /* GitLab */
    {"gitlab_pipeline_trigger_token", "vcs",
     "\\bglptt-[0-9a-f]{10}",
     0,
     "\\bglptt-[0-9a-f]{36,48}\\b", 512},
    /* GitLab */
    {"gitlab_cicd_job_token", "vcs",
     "\\bglcbt-[0-9A-Za-z]{1,5}_[0-9A-Za-z_-]{10}",
     0,
     "\\bglcbt-[0-9A-Za-z]{1,5}_[0-9A-Za-z_-]{20,64}", 512},
    /* Bitbucket */
    {"bitbucket_app_password", "vcs",
     "\\bATBB[A-Za-z0-9_=.-]{10}",
     0,
     "\\bATBB[A-Za-z0-9_=.-]{28,40}", 512},
    /* Bitbucket */
    {"bitbucket_access_token", "vcs",
     "\\bATCTT3[A-Za-z0-9_=-]{100}",
     0,
     "ATCTT3[A-Za-z0-9_=-]{100,300}", 512},
    /* Atlassian (Jira, Confluence) */
    {"atlassian_api_token", "vcs",
     "\\bATATT3[A-Za-z0-9_=-]{100}",
     0,
     "ATATT3[A-Za-z0-9_=-]{100,300}", 512},
    /* JetBrains YouTrack / Hub */
    {"youtrack_permanent_token", "vcs",
     "\\bperm:[A-Za-z0-9+/=_-]{4,64}\\.[A-Za-z0-9+/=_-]{4,64}\\.[A-Za-z0-9]{10}",
     0,
     "\\bperm:[A-Za-z0-9+/=_-]{4,64}\\.[A-Za-z0-9+/=_-]{4,64}\\.[A-Za-z0-9]{20,40}", 512},
    /* Sourcegraph */
    {"sourcegraph_token", "vcs",
     "\\bsgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{10}",
     0,
     "\\bsgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}\\b", 512},
    /* --- ci -------------------------------------------------------------------- */
    /* CircleCI */
    {"circleci_token", "ci",
     "\\bCCIP(?:AT|RJ)_[A-Za-z0-9]{10}",
     0,
     "\\bCCIP(?:AT|RJ)_[A-Za-z0-9]{16,30}_[a-fA-F0-9]{32,48}\\b", 512},
    /* Buildkite */
    {"buildkite_token", "ci",
     "\\bbkua_[a-fA-F0-9]{10}",
     0,
     "\\bbkua_[a-fA-F0-9]{32,48}\\b", 512},
    /* Harness */
    {"harness_token", "ci",
     "\\b(?:pat|sat)\\.[A-Za-z0-9_-]{10}",
     0,
     "\\b(?:pat|sat)\\.[A-Za-z0-9_-]{18,26}\\.[A-Za-z0-9]{20,28}\\.[A-Za-z0-9]{16,24}\\b", 512},
    /* Octopus Deploy */
    {"octopus_deploy_api_key", "ci",
     "\\bAPI-[A-Z0-9]{10}",
     0,
     "\\bAPI-[A-Z0-9]{25,32}\\b", 512},
    /* SonarQube / SonarCloud */
    {"sonarqube_token", "ci",
     "\\bsq[upa]_[a-fA-F0-9]{10}",
     0,
     "\\bsq[upa]_[a-fA-F0-9]{36,48}\\b", 512},
    /* JetBrains TeamCity */
    {"teamcity_token", "ci",
     "\\beyJ0eXAiOiAiVENWMiJ9\\.[A-Za-z0-9_-]{10}",
     0,
     "\\beyJ0eXAiOiAiVENWMiJ9\\.[A-Za-z0-9_-]{20,80}\\.[A-Za-z0-9_-]{20,80}", 512},
    /* --- chat ------------------------------------------------------------------ */
    /* Slack */
    {"slack_app_token", "chat",
     "\\bxapp-[0-9]-[A-Za-z0-9]{8,16}-[0-9]{8,16}-[A-Za-z0-9]{10}",
     0,
     "\\bxapp-[0-9]-[A-Za-z0-9]{8,16}-[0-9]{8,16}-[A-Za-z0-9]{32,80}", 512},
    /* Slack */
    {"slack_config_token", "chat",
     "\\bxoxe(?:\\.xox[bp])?-[0-9]-[A-Za-z0-9]{10}",
     0,
     "\\bxoxe(?:\\.xox[bp])?-[0-9]-[A-Za-z0-9]{120,180}", 512},
    /* Discord */
    {"discord_bot_token", "chat",
     "(?:^|[^A-Za-z0-9_-])(?:[MNO][DTjz][AEIMQUYcgk][w-z0-5]){5}[A-Za-z0-9_-]{3,7}\\.[A-Za-z0-"
        "9_-]{6,7}\\.[A-Za-z0-9_-]{25,45}",
     0,
     "(?:^|[^A-Za-z0-9_-])((?:[MNO][DTjz][AEIMQUYcgk][w-z0-5]){5}[A-Za-z0-9_-]{3,7}\\.[A-Za-z0"
        "-9_-]{6,7}\\.[A-Za-z0-9_-]{25,45})", 8},
    /* Discord */
    {"discord_webhook_url", "chat",
     "https://(?:(?:ptb|canary)\\.)?discord(?:app)?\\.com/api/webhooks/[0-9]{10}",
     0,
     "https://(?:(?:ptb|canary)\\.)?discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,72}", 512},
    /* Telegram */
    {"telegram_bot_token", "chat",
     "\\b[0-9]{6,12}:AA[A-Za-z0-9_-]{10}",
     0,
     "\\b[0-9]{6,12}:AA[A-Za-z0-9_-]{31,35}", 512},
    /* Microsoft Teams */
    {"teams_webhook_url", "chat",
     "https://(?:[A-Za-z0-9-]{1,63}\\.webhook\\.office\\.com/webhookb2|outlook\\.office(?:365)?\\.com/webhook)/[0-9a-fA-F-]{10}",
     0,
     "https://(?:[A-Za-z0-9-]{1,63}\\.webhook\\.office\\.com/webhookb2|outlook\\.office(?:365)?\\.com/webhook)/[0-9a-fA-F-]{36}@[0-9a-fA-F-]{36}/IncomingWebhook/[A-Za-z0-9]{32}/[0-9a-fA-F-]{36}(?:/[A-Za-z0-9_-]{20,80})?", 512},
    /* DingTalk */
    {"dingtalk_webhook", "chat",
     "https://oapi\\.dingtalk\\.com/robot/send\\?access_token=[a-f0-9]{10}",
     0,
     "https://oapi\\.dingtalk\\.com/robot/send\\?access_token=[a-f0-9]{64}", 512},
    /* Feishu / Lark */
    {"feishu_webhook", "chat",
     "https://open\\.(?:feishu\\.cn|larksuite\\.com)/open-apis/bot/v2/hook/[0-9a-f]{8}-[0-9a-f"
        "]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
     0, NULL, 0},
    /* WeCom */
    {"wecom_webhook", "chat",
     "https://qyapi\\.weixin\\.qq\\.com/cgi-bin/webhook/send\\?key=[0-9a-f]{8}-[0-9a-f]{4}-[0-"
        "9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
     0, NULL, 0},
    /* Google Chat */
    {"google_chat_webhook", "chat",
     "https://chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]{8,20}/messages\\?[A-Za-z0-9_=&%.-]{10}",
     0,
     "https://chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]{8,20}/messages\\?[A-Za-z0-9_=&%.-]{40,256}", 512},
    /* Twilio */
    {"twilio_account_sid", "chat",
     "(?i:twilio|account[_-]?sid|/Accounts/)[^\\n]{0,40}\\bAC[0-9a-f]{32}\\b",
     0,
     "(?i:twilio|account[_-]?sid|/Accounts/)[^\\n]{0,40}?\\b(AC[0-9a-f]{32})\\b", 0},
    /* Telnyx */
    {"telnyx_api_key", "chat",
     "\\bKEY[0-9A-F]{10}",
     0,
     "\\bKEY[0-9A-F]{32}_[A-Za-z0-9]{20,26}\\b", 512},
    /* --- payments -------------------------------------------------------------- */
    /* Stripe */
    {"stripe_test_key", "payments",
     "\\b[rs]k_test_[A-Za-z0-9]{20}",
     0,
     "[rs]k_test_[A-Za-z0-9]{20,}", 256},
    /* Stripe / Svix */
    {"stripe_webhook_secret", "payments",
     "\\bwhsec_[A-Za-z0-9+/=]{10}",
     0,
     "\\bwhsec_[A-Za-z0-9+/=]{24,88}", 512},
    /* Square */
    {"square_access_token", "payments",
     "(?:^|[^A-Za-z0-9+/_-])(?:EAAA[A-Za-z0-9_-]{56,68}|sq0atp-[A-Za-z0-9_-]{20,30})",
     0,
     "(?:^|[^A-Za-z0-9+/_-])(EAAA[A-Za-z0-9_-]{56,68}(?![A-Za-z0-9+/=_-])|sq0atp-[A-Za-z0-9_-]"
        "{20,30})", 8},
    /* Square */
    {"square_oauth_secret", "payments",
     "\\bsq0csp-[A-Za-z0-9_-]{10}",
     0,
     "\\bsq0csp-[A-Za-z0-9_-]{40,46}", 512},
    /* Braintree / PayPal */
    {"braintree_access_token", "payments",
     "\\baccess_token\\$(?:production|sandbox)\\$[0-9a-z]{10}",
     0,
     "\\baccess_token\\$(?:production|sandbox)\\$[0-9a-z]{16}\\$[0-9a-f]{32}", 512},
    /* Adyen */
    {"adyen_api_key", "payments",
     "\\bAQE[A-Za-z0-9]hmf[A-Za-z0-9+/]{40}",
     0,
     "AQE[A-Za-z0-9]hmf[A-Za-z0-9+/=]{40,}(?:-[A-Za-z0-9+/=]{20,})?(?:-[^\\s\"\\'\\\\]{1,40})?", 1024},
    /* Razorpay */
    {"razorpay_key", "payments",
     "\\brzp_(?:live|test)_[A-Za-z0-9]{10}",
     0,
     "\\brzp_(?:live|test)_[A-Za-z0-9]{12,20}\\b", 512},
    /* Flutterwave */
    {"flutterwave_secret_key", "payments",
     "\\bFLWSECK(?:_TEST)?-?[A-Za-z0-9]{12}",
     0,
     "FLWSECK(?:_TEST)?-?[A-Za-z0-9]{12,40}(?:-X)?", 64},
    /* Plaid */
    {"plaid_access_token", "payments",
     "\\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{10}",
     0,
     "\\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b", 512},
    /* Paddle */
    {"paddle_api_key", "payments",
     "\\bpdl_(?:live|sdbx)_apikey_[A-Za-z0-9_]{10}",
     0,
     "\\bpdl_(?:live|sdbx)_apikey_[A-Za-z0-9_]{40,80}", 512},
    /* Mercado Pago */
    {"mercadopago_access_token", "payments",
     "\\b(?:APP_USR|TEST)-[0-9]{10}",
     0,
     "\\b(?:APP_USR|TEST)-[0-9]{10,20}-[0-9]{6}-[0-9a-f]{32}-[0-9]{6,12}\\b", 512},
    /* --- registry -------------------------------------------------------------- */
    /* RubyGems */
    {"rubygems_api_key", "registry",
     "\\brubygems_[a-f0-9]{10}",
     0,
     "\\brubygems_[a-f0-9]{40,56}\\b", 512},
    /* NuGet */
    {"nuget_api_key", "registry",
     "\\boy2[a-p][0-9a-z]{10}",
     0,
     "\\boy2[a-p][0-9a-z]{38,44}\\b", 512},
    /* crates.io */
    {"cratesio_token", "registry",
     "\\bcio[A-Za-z0-9]{10}",
     0,
     "\\bcio[A-Za-z0-9]{32}\\b", 512},
    /* JFrog Artifactory */
    {"artifactory_api_key", "registry",
     "\\bAKCp[A-Za-z0-9]{10}",
     0,
     "\\bAKCp[A-Za-z0-9]{60,75}\\b", 512},
    /* JFrog Artifactory */
    {"artifactory_reference_token", "registry",
     "\\bcmVmdGtuOj[A-Za-z0-9]{10}",
     0,
     "\\bcmVmdGtuOj[A-Za-z0-9]{50,60}\\b", 512},
    /* Clojars */
    {"clojars_token", "registry",
     "\\bCLOJARS_[A-Za-z0-9]{10}",
     0,
     "\\bCLOJARS_[A-Za-z0-9]{56,64}\\b", 512},
    /* Docker Hub */
    {"docker_hub_org_token", "registry",
     "\\bdckr_oat_[A-Za-z0-9_-]{10}",
     0,
     "\\bdckr_oat_[A-Za-z0-9_-]{24,40}", 512},
    /* TestPyPI */
    {"pypi_test_token", "registry",
     "\\bpypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{40}",
     0,
     "pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9_-]{40,}", 4096},
    /* Pulumi */
    {"pulumi_token", "registry",
     "\\bpul-[a-f0-9]{10}",
     0,
     "\\bpul-[a-f0-9]{40}\\b", 512},
    /* HCP Terraform */
    {"terraform_cloud_token", "registry",
     "\\b[A-Za-z0-9]{14}\\.atlasv1\\.",
     0,
     "\\b[A-Za-z0-9]{14}\\.atlasv1\\.[A-Za-z0-9_=-]{60,90}", 512},
    /* Doppler */
    {"doppler_token", "registry",
     "\\bdp\\.(?:pt|st|ct|sa|scim|audit)\\.(?:[A-Za-z0-9_-]{1,40}\\.)?[A-Za-z0-9]{10}",
     0,
     "\\bdp\\.(?:pt|st|ct|sa|scim|audit)\\.(?:[A-Za-z0-9_-]{1,40}\\.)?[A-Za-z0-9]{40,48}\\b", 512},
    /* --- observability --------------------------------------------------------- */
    /* New Relic */
    {"new_relic_key", "observability",
     "\\bNR(?:AK|AA|RA|II|JS)-[A-Za-z0-9_-]{10}",
     0,
     "\\bNR(?:AK|AA|RA|II|JS)-[A-Za-z0-9_-]{19,40}", 512},
    /* New Relic */
    {"new_relic_license_key", "observability",
     "\\b[a-fA-F0-9]{36}NRAL\\b",
     0,
     "\\b[a-fA-F0-9]{36}NRAL\\b", 512},
    /* Sentry */
    {"sentry_org_token", "observability",
     "\\bsntrys_eyJ[A-Za-z0-9+/=]{40}",
     0,
     "sntrys_eyJ[A-Za-z0-9+/=]{40,}(?:_[A-Za-z0-9+/]{40,46})?", 1024},
    /* Sentry */
    {"sentry_user_token", "observability",
     "\\bsntryu_[a-f0-9]{10}",
     0,
     "\\bsntryu_[a-f0-9]{56,72}\\b", 512},
    /* Grafana */
    {"grafana_cloud_token", "observability",
     "\\bglc_[A-Za-z0-9+/]{32}",
     0,
     "glc_[A-Za-z0-9+/]{32,}={0,3}", 1024},
    /* Grafana */
    {"grafana_service_account_token", "observability",
     "\\bglsa_[A-Za-z0-9]{10}",
     0,
     "\\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\\b", 512},
    /* Grafana */
    {"grafana_api_key", "observability",
     "\\beyJrIjoi[A-Za-z0-9]{40}",
     0,
     "eyJrIjoi[A-Za-z0-9]{40,}={0,3}", 512},
    /* Dynatrace */
    {"dynatrace_token", "observability",
     "\\bdt0[a-z][0-9]{2}\\.[A-Za-z0-9]{10}",
     0,
     "\\bdt0[a-z][0-9]{2}\\.[A-Za-z0-9]{20,28}\\.[A-Za-z0-9]{56,72}", 512},
    /* Axiom */
    {"axiom_token", "observability",
     "\\bxa[ap]t-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{10}",
     0,
     "\\bxa[ap]t-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b", 512},
    /* PostHog */
    {"posthog_personal_api_key", "observability",
     "\\bphx_[A-Za-z0-9]{10}",
     0,
     "\\bphx_[A-Za-z0-9]{36,50}\\b", 512},
    /* LaunchDarkly */
    {"launchdarkly_key", "observability",
     "\\b(?:api|sdk)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{10}",
     0,
     "\\b(?:api|sdk)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b", 512},
    /* --- ai -------------------------------------------------------------------- */
    /* Anthropic */
    {"anthropic_api_key", "ai",
     "\\bsk-ant-api0[0-9]-[A-Za-z0-9_-]{10}",
     0,
     "\\bsk-ant-api0[0-9]-[A-Za-z0-9_-]{80,110}", 512},
    /* Anthropic */
    {"anthropic_admin_key", "ai",
     "\\bsk-ant-admin0[0-9]-[A-Za-z0-9_-]{10}",
     0,
     "\\bsk-ant-admin0[0-9]-[A-Za-z0-9_-]{80,110}", 512},
    /* Anthropic */
    {"anthropic_oauth_token", "ai",
     "\\bsk-ant-o(?:at|rt)0[0-9]-[A-Za-z0-9_-]{10}",
     0,
     "\\bsk-ant-o(?:at|rt)0[0-9]-[A-Za-z0-9_-]{80,110}", 512},
    /* OpenAI */
    {"openai_project_key", "ai",
     "\\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40}",
     0,
     "sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}", 512},
    /* Groq */
    {"groq_api_key", "ai",
     "\\bgsk_[A-Za-z0-9]{10}",
     0,
     "\\bgsk_[A-Za-z0-9]{48,56}\\b", 512},
    /* Replicate */
    {"replicate_api_token", "ai",
     "\\br8_[A-Za-z0-9]{10}",
     0,
     "\\br8_[A-Za-z0-9]{35,40}\\b", 512},
    /* Perplexity */
    {"perplexity_api_key", "ai",
     "\\bpplx-[A-Za-z0-9]{10}",
     0,
     "\\bpplx-[A-Za-z0-9]{40,56}\\b", 512},
    /* xAI */
    {"xai_api_key", "ai",
     "\\bxai-[A-Za-z0-9]{10}",
     0,
     "\\bxai-[A-Za-z0-9]{70,90}\\b", 512},
    /* Hugging Face */
    {"huggingface_org_token", "ai",
     "\\bapi_org_[A-Za-z0-9]{10}",
     0,
     "\\bapi_org_[A-Za-z0-9]{30,40}\\b", 512},
    /* LangSmith */
    {"langsmith_api_key", "ai",
     "\\blsv2_(?:pt|sk)_[a-f0-9]{10}",
     0,
     "\\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\\b", 512},
    /* Pinecone */
    {"pinecone_api_key", "ai",
     "\\bpcsk_[A-Za-z0-9_]{10}",
     0,
     "\\bpcsk_[A-Za-z0-9_]{40,100}", 512},
    /* OpenRouter */
    {"openrouter_api_key", "ai",
     "\\bsk-or-v1-[a-f0-9]{10}",
     0,
     "\\bsk-or-v1-[a-f0-9]{56,72}\\b", 512},
    /* DeepSeek (and other sk-<32 hex> APIs) */
    {"deepseek_api_key", "ai",
     "\\bsk-[a-f0-9]{10}",
     0,
     "\\bsk-[a-f0-9]{32}\\b", 512},
    /* ElevenLabs */
    {"elevenlabs_api_key", "ai",
     "\\bsk_[a-f0-9]{10}",
     0,
     "\\bsk_[a-f0-9]{48}\\b", 512},
    /* Langfuse */
    {"langfuse_secret_key", "ai",
     "\\bsk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{10}",
     0,
     "\\bsk-lf-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b", 512},
    /* Tavily */
    {"tavily_api_key", "ai",
     "\\btvly-(?:dev-|prod-)?[A-Za-z0-9]{10}",
     0,
     "\\btvly-(?:dev-|prod-)?[A-Za-z0-9]{28,40}\\b", 512},
    /* Firecrawl */
    {"firecrawl_api_key", "ai",
     "\\bfc-[a-f0-9]{10}",
     0,
     "\\bfc-[a-f0-9]{32}\\b", 512},
    /* --- saas ------------------------------------------------------------------ */
    /* Postman */
    {"postman_api_key", "saas",
     "\\bPMAK-[a-fA-F0-9]{10}",
     0,
     "\\bPMAK-[a-fA-F0-9]{20,28}-[a-fA-F0-9]{30,38}\\b", 512},
    /* Linear */
    {"linear_api_key", "saas",
     "\\blin_(?:api|oauth)_[A-Za-z0-9]{10}",
     0,
     "\\blin_(?:api|oauth)_[A-Za-z0-9]{40,64}\\b", 512},
    /* Notion */
    {"notion_token", "saas",
     "\\b(?:secret_[A-Za-z0-9]{43}|ntn_[0-9]{11}[A-Za-z0-9]{32,40})\\b",
     0, NULL, 0},
    /* Airtable */
    {"airtable_pat", "saas",
     "\\bpat[A-Za-z0-9]{10}",
     0,
     "\\bpat[A-Za-z0-9]{14}\\.[a-f0-9]{64}\\b", 512},
    /* Mailchimp */
    {"mailchimp_api_key", "saas",
     "\\b[0-9a-f]{32}-us[0-9]",
     0,
     "\\b[0-9a-f]{32}-us[0-9]{1,2}\\b", 512},
    /* Brevo (Sendinblue) */
    {"brevo_api_key", "saas",
     "\\bx(?:keysib|smtpsib)-[a-f0-9]{10}",
     0,
     "\\bx(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}\\b", 512},
    /* Typeform */
    {"typeform_token", "saas",
     "\\btfp_[A-Za-z0-9_.=-]{10}",
     0,
     "\\btfp_[A-Za-z0-9_.=-]{40,70}", 512},
    /* Netlify */
    {"netlify_token", "saas",
     "\\bnfp_[A-Za-z0-9]{10}",
     0,
     "\\bnfp_[A-Za-z0-9]{36,40}\\b", 512},
    /* Supabase */
    {"supabase_token", "saas",
     "\\b(?:sbp_[a-f0-9]{40}\\b|sb_secret_[A-Za-z0-9_-]{28,40})",
     0, NULL, 0},
    /* PlanetScale */
    {"planetscale_token", "saas",
     "pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{10}",
     0,
     "pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{32,64}", 512},
    /* Contentful */
    {"contentful_pat", "saas",
     "\\bCFPAT-[A-Za-z0-9_-]{10}",
     0,
     "\\bCFPAT-[A-Za-z0-9_-]{40,46}", 512},
    /* Figma */
    {"figma_token", "saas",
     "\\bfigd_[A-Za-z0-9_-]{10}",
     0,
     "\\bfigd_[A-Za-z0-9_-]{36,64}", 512},
    /* Dropbox */
    {"dropbox_token", "saas",
     "\\bsl\\.(?:[A-Za-z]\\.)?[A-Za-z0-9_=-]{120}",
     0,
     "sl\\.(?:[A-Za-z]\\.)?[A-Za-z0-9_=-]{120,}", 2048},
    /* HubSpot */
    {"hubspot_pat", "saas",
     "\\bpat-(?:na|eu|ap)[0-9]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{10}",
     0,
     "\\bpat-(?:na|eu|ap)[0-9]-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b", 512},
    /* Frame.io */
    {"frameio_token", "saas",
     "\\bfio-u-[A-Za-z0-9_=-]{10}",
     0,
     "\\bfio-u-[A-Za-z0-9_=-]{60,70}", 512},
    /* Shippo */
    {"shippo_token", "saas",
     "\\bshippo_(?:live|test)_[a-fA-F0-9]{10}",
     0,
     "\\bshippo_(?:live|test)_[a-fA-F0-9]{40}\\b", 512},
    /* EasyPost */
    {"easypost_api_key", "saas",
     "\\bEZ[AT]K[A-Za-z0-9]{10}",
     0,
     "\\bEZ[AT]K[A-Za-z0-9]{50,58}\\b", 512},
    /* Duffel */
    {"duffel_token", "saas",
     "\\bduffel_(?:live|test)_[A-Za-z0-9_=-]{10}",
     0,
     "\\bduffel_(?:live|test)_[A-Za-z0-9_=-]{40,46}", 512},
    /* Databricks */
    {"databricks_token", "saas",
     "\\bdapi[a-f0-9]{10}",
     0,
     "\\bdapi[a-f0-9]{32}(?:-[0-9])?\\b", 512},
    /* Prefect */
    {"prefect_api_key", "saas",
     "\\bpn[ub]_[A-Za-z0-9]{10}",
     0,
     "\\bpn[ub]_[A-Za-z0-9]{30,40}\\b", 512},
    /* Infracost */
    {"infracost_api_key", "saas",
     "\\bico-[A-Za-z0-9]{10}",
     0,
     "\\bico-[A-Za-z0-9]{32}\\b", 512},
    /* 1Password */
    {"onepassword_service_account_token", "saas",
     "\\bops_eyJ[A-Za-z0-9+/]{100}",
     0,
     "ops_eyJ[A-Za-z0-9+/]{100,}={0,3}", 4096},
    /* 1Password */
    {"onepassword_secret_key", "saas",
     "\\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0"
        "-9]{5}\\b",
     0, NULL, 0},
    /* Tailscale */
    {"tailscale_key", "saas",
     "\\btskey-(?:[a-z]{3,8}-)?[A-Za-z0-9]{6,24}-[A-Za-z0-9]{10}",
     0,
     "\\btskey-(?:[a-z]{3,8}-)?[A-Za-z0-9]{6,24}-[A-Za-z0-9]{16,48}", 512},
    /* ReadMe */
    {"readme_api_key", "saas",
     "\\brdme_[a-z0-9]{10}",
     0,
     "\\brdme_[a-z0-9]{60,80}\\b", 512},
    /* Mapbox */
    {"mapbox_secret_token", "saas",
     "\\bsk\\.eyJ[A-Za-z0-9_-]{10}",
     0,
     "\\bsk\\.eyJ[A-Za-z0-9_-]{20,200}\\.[A-Za-z0-9_-]{20,40}", 512},
    /* Meta (Facebook, Instagram, WhatsApp) */
    {"facebook_access_token", "saas",
     "(?:^|[^A-Za-z0-9+/_-])EAA[B-Z][A-Za-z0-9]{96}",
     0,
     "(?:^|[^A-Za-z0-9+/_-])(EAA[B-Z][A-Za-z0-9]{96,})(?![+/=])", 1024},
    /* Cloudinary */
    {"cloudinary_url", "saas",
     "\\bcloudinary://[0-9]{10,20}:[A-Za-z0-9_-]{20,40}@",
     0,
     "cloudinary://[0-9]{10,20}:([A-Za-z0-9_-]{20,40})@", 0},
    /* ClickUp */
    {"clickup_token", "saas",
     "\\bpk_[0-9]{4,12}_[A-Z0-9]{10}",
     0,
     "\\bpk_[0-9]{4,12}_[A-Z0-9]{32}\\b", 512},
    /* Salesforce */
    {"salesforce_access_token", "saas",
     "\\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{40}",
     0,
     "00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{40,}", 512},
    /* Zoho */
    {"zoho_oauth_token", "saas",
     "\\b1000\\.[a-f0-9]{10}",
     0,
     "\\b1000\\.[a-f0-9]{32}\\.[a-f0-9]{32}\\b", 512},
    /* Apify */
    {"apify_token", "saas",
     "\\bapify_api_[A-Za-z0-9]{10}",
     0,
     "\\bapify_api_[A-Za-z0-9]{30,40}\\b", 512},
    /* Adobe */
    {"adobe_client_secret", "saas",
     "\\bp8e-[A-Za-z0-9]{10}",
     0,
     "\\bp8e-[A-Za-z0-9]{32}\\b", 512},
    /* MaxMind */
    {"maxmind_license_key", "saas",
     "\\b[A-Za-z0-9]{6}_[A-Za-z0-9]{10}",
     0,
     "\\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk\\b", 512},
    /* 42 Intra */
    {"intra42_client_secret", "saas",
     "\\bs-s4t2(?:ud|af)-[a-f0-9]{10}",
     0,
     "\\bs-s4t2(?:ud|af)-[a-f0-9]{64}\\b", 512},
    /* SettleMint */
    {"settlemint_token", "saas",
     "\\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{10}",
     0,
     "\\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16,40}\\b", 512},
    /* ClickHouse Cloud */
    {"clickhouse_cloud_secret", "saas",
     "\\b4b1d[A-Za-z0-9]{10}",
     0,
     "\\b4b1d[A-Za-z0-9]{38}\\b", 512},
    /* Zapier */
    {"zapier_webhook_url", "saas",
     "https://hooks\\.zapier\\.com/hooks/catch/[0-9]{3,12}/[A-Za-z0-9]{4,12}/?",
     0, NULL, 0},
    /* IFTTT */
    {"ifttt_webhook_key", "saas",
     "https://maker\\.ifttt\\.com/trigger/[A-Za-z0-9_-]{1,64}/(?:json/)?with/key/[A-Za-z0-9_-]{10}",
     0,
     "https://maker\\.ifttt\\.com/trigger/[A-Za-z0-9_-]{1,64}/(?:json/)?with/key/[A-Za-z0-9_-]{20,48}", 512},
    /* --- crypto_keys ----------------------------------------------------------- */
    /* age */
    {"age_secret_key", "crypto_keys",
     "\\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{10}",
     F_CI,
     "\\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", 512},
    /* PuTTY */
    {"putty_private_key", "crypto_keys",
     "Private-Lines:[ \\t]*[0-9]{1,3}\\r?\\n",
     0,
     "Private-Lines:[ \\t]*[0-9]{1,3}\\r?\\n((?:[A-Za-z0-9+/=]{1,64}\\r?\\n){0,99}[A-Za-z0-9+/"
        "=]{1,64})", 8192},
    /* WireGuard */
    {"wireguard_private_key", "crypto_keys",
     "\\b(?:PrivateKey|PresharedKey)[ \\t]*=[ \\t]*[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=",
     0,
     "(?:PrivateKey|PresharedKey)[ \\t]*=[ \\t]*([A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)", 0},
    /* Ethereum (Foundry/Hardhat CLIs) */
    {"eth_private_key_flag", "crypto_keys",
     "--private-?key(?:=|[ \\t]+)(?:0x)?[0-9a-fA-F]{64}\\b",
     0,
     "--private-?key(?:=|[ \\t]+)((?:0x)?[0-9a-fA-F]{64})\\b", 0},
    /* Bitcoin (BIP32) */
    {"bip32_extended_private_key", "crypto_keys",
     "\\b[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{10}",
     0,
     "\\b[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{100,112}\\b", 512},
    /* Nostr */
    {"nostr_private_key", "crypto_keys",
     "\\bnsec1[02-9ac-hj-np-z]{10}",
     0,
     "\\bnsec1[02-9ac-hj-np-z]{58}\\b", 512},
};
const size_t mask_providers_count = sizeof mask_providers / sizeof mask_providers[0];
