/** Corpus generators for the monitoring detectors (rules/secrets-monitoring.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, b64url, chars, DIGITS, digits, HEX, int, LOWER, pick, token, UPPER, URLSAFE, type Family, type Rng } from '../random';

const uuid = (r: Rng) => `${chars(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${chars(r, HEX, 3)}-${chars(r, HEX, 12)}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const NO_A = ALNUM.replace('A', '');
const word = (r: Rng) => pick(r, ['prod', 'staging', 'ci', 'billing', 'search', 'web', 'etl', 'ops', 'mobile']);

/** An X (Twitter) app-only bearer token: a run of A's, the app id bytes, more A's, then the URL-encoded secret. */
function twitterBearer(r: Rng): string {
  let secret = '';
  while (secret.length < 80) {
    const piece = token(r, ALNUM, int(r, 6, 14));
    secret += piece + pick(r, ['%2B', '%2F', '', '']);
  }
  secret = secret.replace(/A{2,}/g, 'b');
  const head = pick(r, ['0', '1', 'x', 'Q', 'k', 'z', '7']);
  return 'A'.repeat(21) + chars(r, NO_A, int(r, 4, 8)) + 'A'.repeat(int(r, 0, 8)) + head + secret + '%3D' + token(r, NO_A, int(r, 30, 50));
}

/** Keyed contexts: the value next to a name, as env, shell, YAML, JSON, code and prose. */
const keyed = (names: string[], prose: string): ((v: string, r: Rng) => string)[] => [
  (v, r) => `${pick(r, names)}=${v}`,
  (v, r) => `export ${pick(r, names)}="${v}"`,
  (v, r) => `${pick(r, names).toLowerCase()}: ${v}`,
  (v, r) => `{"${pick(r, names).toLowerCase()}": "${v}"}`,
  (v) => `the ${prose} is ${v}, don't share it`,
  (v) => `here's the ${prose}: \`${v}\``,
];

export const family: Family = {
  values: {
    // Datadog
    'datadog-api-key': (r) => token(r, HEX, 32),
    'datadog-app-key': (r) => token(r, HEX, 40),
    // New Relic
    'newrelic-user-api-key': (r) => 'NRAK-' + token(r, UPPER + DIGITS, 27),
    'newrelic-legacy-api-key': (r) => pick(r, ['NRAA-', 'NRRA-']) + token(r, HEX, pick(r, [27, 42])),
    'newrelic-license-key': (r) => {
      const region = r() < 0.3 ? `${pick(r, ['eu', 'gv'])}01xx` : '';
      return region + token(r, HEX, 36 - region.length) + 'NRAL';
    },
    'newrelic-license-key-legacy': (r) => token(r, HEX, 40),
    'newrelic-insights-insert-key': (r) => 'NRII-' + token(r, URLSAFE, 32),
    'newrelic-insights-query-key': (r) => 'NRIQ-' + token(r, URLSAFE, 32),
    'newrelic-browser-key': (r) => 'NRJS-' + token(r, HEX, 19),
    'newrelic-mobile-app-token': (r) => `AA${token(r, HEX, 40)}-NRMA`,
    // Sentry
    'sentry-dsn': (r) =>
      `https://${token(r, HEX, 32)}@${pick(r, [`o${digits(r, 6)}.ingest.sentry.io`, `o${digits(r, 7)}.ingest.us.sentry.io`, `o${digits(r, 6)}.ingest.de.sentry.io`, 'sentry.io'])}/${int(r, 1000, 9999999)}`,
    'sentry-org-auth-token': (r) => {
      const payload = b64(JSON.stringify({ iat: 1.7e9 + int(r, 0, 1e8) + r(), url: 'https://sentry.io', region_url: `https://${pick(r, ['us', 'de'])}.sentry.io`, org: `${word(r)}-${chars(r, LOWER, 5)}` })).replace(/=+$/, '');
      return `sntrys_${payload}_${token(r, ALNUM + '+/', 43)}`;
    },
    'sentry-user-auth-token': (r) => 'sntryu_' + token(r, HEX, 64),
    'sentry-auth-token-legacy': (r) => token(r, HEX, 64),
    // Grafana
    'grafana-cloud-access-policy-token': (r) =>
      'glc_' + b64(JSON.stringify({ o: digits(r, 6), n: `${word(r)}-${chars(r, LOWER, 6)}`, k: token(r, ALNUM, 24), m: { r: pick(r, ['prod-us-east-0', 'prod-eu-west-2', 'prod-ap-southeast-1']) } })),
    'grafana-service-account-token': (r) => `glsa_${token(r, ALNUM, 32)}_${token(r, HEX, 8)}`,
    'grafana-api-key-legacy': (r) => b64(JSON.stringify({ k: token(r, ALNUM, 32), n: `${word(r)}-${chars(r, LOWER, 4)}`, id: int(r, 1, 999999) })),
    // Honeycomb
    'honeycomb-ingest-key': (r) => `hc${pick(r, ['a', 'x', 'b'])}ik_${token(r, DIGITS + LOWER, 58)}`,
    'honeycomb-management-key': (r) => `hc${pick(r, ['a', 'x', 'b'])}mk_${token(r, DIGITS + LOWER, 26)}:${token(r, DIGITS + LOWER, 32)}`,
    'honeycomb-api-key': (r) => (r() < 0.5 ? token(r, ALNUM, 22) : token(r, HEX, 32)),
    // Dynatrace
    'dynatrace-api-token': (r) => `${pick(r, ['dt0c01', 'dt0s01', 'dt0s02', 'dt0s16'])}.${token(r, UPPER + DIGITS, 24)}.${token(r, UPPER + DIGITS, 64)}`,
    // PagerDuty
    'pagerduty-api-key': (r) => (r() < 0.4 ? 'u+' + token(r, ALNUM + '_-', 18) : token(r, ALNUM + '_-', 20)),
    'pagerduty-routing-key': (r) => token(r, HEX, 32),
    // Splunk, Elastic, Lightstep
    'splunk-hec-token': (r) => (r() < 0.5 ? uuid(r) : uuid(r).toUpperCase()),
    'elastic-api-key': (r) => b64(`${token(r, URLSAFE, 20)}:${token(r, URLSAFE, 22)}`),
    'lightstep-access-token': (r) => token(r, ALNUM + '+/', pick(r, [32, 84, 88])),
    // Error trackers and log shippers
    'rollbar-access-token': (r) => token(r, HEX, 32),
    'bugsnag-api-key': (r) => token(r, HEX, 32),
    'sumologic-access-key': (r) => token(r, ALNUM, 64),
    'loggly-customer-token': (r) => uuid(r),
    'logzio-token': (r) => chars(r, UPPER + LOWER, 32),
    'airbrake-key': (r) => token(r, HEX, pick(r, [32, 40])),
    // Product analytics
    'mixpanel-api-secret': (r) => token(r, HEX, 32),
    'amplitude-secret-key': (r) => token(r, HEX, 32),
    'segment-write-key': (r) => token(r, ALNUM, 32),
    // LaunchDarkly
    'launchdarkly-sdk-key': (r) => 'sdk-' + uuid(r),
    'launchdarkly-access-token': (r) => 'api-' + uuid(r),
    // Social platforms
    'facebook-access-token': (r) => 'EAA' + pick(r, ['B', 'G', 'J', 'I', 'd', 'Z', 'AAU', 'AAZ']) + token(r, ALNUM, int(r, 120, 230)),
    'facebook-app-secret': (r) => (r() < 0.3 ? `${digits(r, 15)}|` : '') + token(r, HEX, 32),
    'twitter-bearer-token': twitterBearer,
    'twitter-api-key': (r) => token(r, ALNUM, pick(r, [22, 25])),
    'twitter-api-secret': (r) => token(r, ALNUM, pick(r, [41, 45, 50])),
    'twitter-access-token': (r) => `${digits(r, int(r, 9, 19))}-${token(r, ALNUM, pick(r, [40, 41]))}`,
    'linkedin-client-secret': (r) => (r() < 0.5 ? token(r, ALNUM, 16) : `WPL_AP1.${token(r, ALNUM, 16)}.${token(r, ALNUM, 8)}==`),
    'tiktok-client-secret': (r) => token(r, ALNUM, 32),
    'twitch-token': (r) => token(r, DIGITS + LOWER, 30),
    // Identity and SaaS
    'okta-api-token': (r) => '00' + token(r, URLSAFE, 40),
    'auth0-client-secret': (r) => token(r, URLSAFE, 64),
    'contentful-pat': (r) => 'CFPAT-' + token(r, URLSAFE, 43),
    'dropbox-short-lived-token': (r) => 'sl.' + (r() < 0.5 ? 'u.' : 'B') + token(r, URLSAFE, int(r, 135, 400)),
    'zendesk-api-token': (r) => token(r, ALNUM, 40),
    'intercom-access-token': (r) => b64(`tok:${uuid(r).replace(/-/g, '_')}:${int(r, 0, 9)}:0`).replace(/=+$/, '') + '=',
    'hubspot-private-app-token': (r) => `pat-${pick(r, ['na1', 'na2', 'eu1', 'ap1'])}-${uuid(r)}`,
    'mapbox-secret-token': (r) => `sk.${b64url(JSON.stringify({ u: `${word(r)}${chars(r, LOWER, 4)}`, a: token(r, LOWER + DIGITS, 25) }))}.${token(r, URLSAFE, 22)}`,
    'algolia-admin-key': (r) => token(r, HEX, 32),
    'typeform-pat': (r) => 'tfp_' + token(r, ALNUM, 44) + '_' + token(r, ALNUM, 14),
    'frameio-developer-token': (r) => 'fio-u-' + token(r, URLSAFE, 64),
    'easypost-api-key': (r) => 'EZAK' + token(r, HEX, 54),
    'easypost-test-api-key': (r) => 'EZTK' + token(r, HEX, 54),
    'shippo-live-token': (r) => 'shippo_live_' + token(r, HEX, 40),
    'shippo-test-token': (r) => 'shippo_test_' + token(r, HEX, 40),
    'lob-api-key': (r) => 'live_' + token(r, HEX, 35),
    'lob-test-api-key': (r) => 'test_' + token(r, HEX, 35),
    'zapier-webhook-url': (r) => `https://hooks.zapier.com/hooks/catch/${digits(r, int(r, 6, 8))}/${token(r, LOWER + DIGITS, int(r, 6, 7))}/`,
  },
  contexts: {
    'datadog-api-key': [
      ...keyed(['DD_API_KEY', 'DATADOG_API_KEY'], 'datadog api key'),
      (v) => `curl -H "DD-API-KEY: ${v}" https://api.datadoghq.com/api/v1/validate`,
      (v) => `const ddApiKey = '${v}';`,
    ],
    'datadog-app-key': [
      ...keyed(['DD_APP_KEY', 'DATADOG_APP_KEY', 'DD_APPLICATION_KEY'], 'datadog app key'),
      (v) => `curl -H "DD-APPLICATION-KEY: ${v}" https://api.datadoghq.com/api/v1/dashboard`,
    ],
    'newrelic-license-key-legacy': keyed(['NEW_RELIC_LICENSE_KEY', 'NEWRELIC_LICENSE_KEY'], 'new relic license key'),
    'sentry-dsn': [
      (v) => `Sentry.init({ dsn: "${v}" });`,
      (v) => `SENTRY_DSN=${v}`,
      (v) => `dsn is ${v}`,
      (v) => `sentry_sdk.init("${v}", traces_sample_rate=1.0)`,
    ],
    'sentry-auth-token-legacy': keyed(['SENTRY_AUTH_TOKEN', 'SENTRY_TOKEN'], 'sentry auth token'),
    'honeycomb-ingest-key': [(v) => `X-Honeycomb-Team: ${v}`, (v) => `HONEYCOMB_API_KEY=${v}`, (v) => `here you go: ${v}`, (v) => `\`${v}\``],
    'honeycomb-management-key': [(v) => `curl -H "Authorization: Bearer ${v}" https://api.honeycomb.io/2/teams/acme/api-keys`, (v) => `mgmt key ${v}`],
    'honeycomb-api-key': [...keyed(['HONEYCOMB_API_KEY', 'HONEYCOMB_WRITEKEY', 'HONEYCOMB_KEY'], 'honeycomb api key'), (v) => `-H "X-Honeycomb-Team: ${v}"`],
    'pagerduty-api-key': [
      ...keyed(['PAGERDUTY_API_KEY', 'PAGERDUTY_TOKEN', 'PD_API_KEY', 'PAGERDUTY_USER_TOKEN'], 'pagerduty api key'),
      (v) => `curl -H "Authorization: Token token=${v}" https://api.pagerduty.com/incidents`,
    ],
    'pagerduty-routing-key': [...keyed(['PAGERDUTY_ROUTING_KEY', 'PAGERDUTY_INTEGRATION_KEY', 'PD_ROUTING_KEY'], 'pagerduty routing key')],
    'splunk-hec-token': [
      (v) => `curl -k https://splunk.acme.io:8088/services/collector -H "Authorization: Splunk ${v}" -d '{"event":"hi"}'`,
      ...keyed(['SPLUNK_HEC_TOKEN', 'SPLUNK_TOKEN', 'HEC_TOKEN'], 'splunk hec token'),
    ],
    'elastic-api-key': [
      (v) => `curl -H "Authorization: ApiKey ${v}" https://acme.es.us-east-1.aws.elastic.cloud/_cat/indices`,
      ...keyed(['ELASTIC_API_KEY', 'ES_API_KEY', 'EC_API_KEY', 'ELASTICSEARCH_API_KEY'], 'elastic api key'),
    ],
    'lightstep-access-token': [...keyed(['LIGHTSTEP_ACCESS_TOKEN', 'LIGHTSTEP_TOKEN'], 'lightstep access token'), (v) => `lightstep-access-token: ${v}`],
    'rollbar-access-token': [...keyed(['ROLLBAR_ACCESS_TOKEN', 'ROLLBAR_TOKEN', 'ROLLBAR_SERVER_TOKEN'], 'rollbar access token'), (v) => `curl -H 'X-Rollbar-Access-Token: ${v}' https://api.rollbar.com/api/1/items`],
    'bugsnag-api-key': [...keyed(['BUGSNAG_API_KEY', 'BUGSNAG_KEY'], 'bugsnag api key'), (v) => `Bugsnag.start({ apiKey: '${v}' })`],
    'sumologic-access-key': keyed(['SUMOLOGIC_ACCESS_KEY', 'SUMO_ACCESS_KEY', 'SUMO_LOGIC_ACCESS_KEY'], 'sumo logic access key'),
    'loggly-customer-token': [...keyed(['LOGGLY_TOKEN', 'LOGGLY_CUSTOMER_TOKEN'], 'loggly token'), (v) => `curl -d 'hello' https://logs-01.loggly.com/inputs/${v}/tag/http/`],
    'logzio-token': [...keyed(['LOGZIO_TOKEN', 'LOGZIO_SHIPPING_TOKEN', 'LOGZ_IO_TOKEN'], 'logz.io shipping token'), (v) => `https://listener.logz.io:8071/?token=${v}&type=json`],
    'airbrake-key': keyed(['AIRBRAKE_PROJECT_KEY', 'AIRBRAKE_API_KEY', 'AIRBRAKE_USER_KEY'], 'airbrake project key'),
    'mixpanel-api-secret': keyed(['MIXPANEL_API_SECRET', 'MIXPANEL_SECRET', 'MIXPANEL_PROJECT_SECRET'], 'mixpanel api secret'),
    'amplitude-secret-key': keyed(['AMPLITUDE_SECRET_KEY', 'AMPLITUDE_SECRET'], 'amplitude secret key'),
    'segment-write-key': [...keyed(['SEGMENT_WRITE_KEY', 'SEGMENT_WRITEKEY'], 'segment write key'), (v) => `analytics.load("${v}") // segment write key`],
    'launchdarkly-access-token': [
      ...keyed(['LAUNCHDARKLY_ACCESS_TOKEN', 'LD_ACCESS_TOKEN', 'LAUNCHDARKLY_API_TOKEN', 'LD_API_KEY'], 'launchdarkly access token'),
      (v) => `curl -H "Authorization: ${v}" https://app.launchdarkly.com/api/v2/flags/default`,
    ],
    'facebook-app-secret': [...keyed(['FACEBOOK_APP_SECRET', 'FB_APP_SECRET', 'FACEBOOK_CLIENT_SECRET', 'META_APP_SECRET'], 'facebook app secret')],
    'twitter-api-key': keyed(['TWITTER_API_KEY', 'TWITTER_CONSUMER_KEY'], 'twitter api key'),
    'twitter-api-secret': keyed(['TWITTER_API_SECRET', 'TWITTER_CONSUMER_SECRET', 'TWITTER_ACCESS_TOKEN_SECRET', 'TWITTER_API_KEY_SECRET'], 'twitter api secret'),
    'twitter-access-token': keyed(['TWITTER_ACCESS_TOKEN'], 'twitter access token'),
    'linkedin-client-secret': keyed(['LINKEDIN_CLIENT_SECRET', 'LINKEDIN_SECRET'], 'linkedin client secret'),
    'tiktok-client-secret': keyed(['TIKTOK_CLIENT_SECRET', 'TIKTOK_APP_SECRET'], 'tiktok client secret'),
    'twitch-token': [...keyed(['TWITCH_CLIENT_SECRET', 'TWITCH_OAUTH_TOKEN', 'TWITCH_ACCESS_TOKEN'], 'twitch client secret'), (v) => `twitch chat password oauth:${v}`],
    'okta-api-token': [
      (v) => `curl -H "Authorization: SSWS ${v}" https://acme.okta.com/api/v1/users`,
      ...keyed(['OKTA_API_TOKEN', 'OKTA_TOKEN', 'OKTA_CLIENT_TOKEN'], 'okta api token'),
    ],
    'auth0-client-secret': keyed(['AUTH0_CLIENT_SECRET', 'AUTH0_SECRET'], 'auth0 client secret'),
    'zendesk-api-token': [
      ...keyed(['ZENDESK_API_TOKEN', 'ZENDESK_TOKEN'], 'zendesk api token'),
      (v) => `curl https://acme.zendesk.com/api/v2/tickets.json -u jane@acme.io/token:${v}`,
    ],
    'intercom-access-token': [...keyed(['INTERCOM_ACCESS_TOKEN', 'INTERCOM_TOKEN'], 'intercom access token')],
    'algolia-admin-key': [
      ...keyed(['ALGOLIA_ADMIN_KEY', 'ALGOLIA_ADMIN_API_KEY', 'ALGOLIA_WRITE_API_KEY'], 'algolia admin key'),
      (v) => `curl -H "X-Algolia-API-Key: ${v}" -H "X-Algolia-Application-Id: LATENCY" https://latency-dsn.algolia.net/1/indexes`,
    ],
    'lob-api-key': [...keyed(['LOB_API_KEY', 'LOB_SECRET_KEY', 'LOB_LIVE_KEY'], 'lob api key')],
    'lob-test-api-key': [...keyed(['LOB_API_KEY', 'LOB_TEST_API_KEY', 'LOB_TEST_KEY'], 'lob test api key')],
  },
  nearMisses: {
    'datadog-api-key': ['DD_API_KEY=<your-datadog-api-key>', 'DD_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'datadog api key: ${DD_API_KEY}'],
    'datadog-app-key': ['DD_APP_KEY=<DATADOG_APP_KEY>', 'datadog app key: ****************************************'],
    'newrelic-user-api-key': ['NRAK-XXXXXXXXXXXXXXXXXXXXXXXXXXX', 'user keys start with NRAK- and are 32 characters'],
    'newrelic-license-key': ['NEW_RELIC_LICENSE_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxNRAL', 'license keys end in NRAL'],
    'newrelic-insights-insert-key': ['NRII-<insert-key>', 'X-Insert-Key: NRII-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    'sentry-dsn': ['https://<key>@o0.ingest.sentry.io/0', 'SENTRY_DSN=https://examplePublicKey@o0.ingest.sentry.io/0'],
    'sentry-user-auth-token': ['Authorization: Bearer sntryu_YOUR_TOKEN_HERE', 'sntryu_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    'grafana-service-account-token': ['glsa_xxxxxxxxxxxx', 'GRAFANA_TOKEN=glsa_<token>'],
    'honeycomb-ingest-key': ['X-Honeycomb-Team: hcxik_1234567890123456789012345612345678901234567890123456789012'],
    'dynatrace-api-token': ['dt0s01.ST2EY72KQINMH574WMNVI7YN.G3DFPBEJYMODIDAEX454M7YWBUVEFOWKPRVMWFASS64NFH52PX6BNDVFFM572RZM', 'Api-Token dt0c01.NDL63DNEONLLGXTYFDMZ4J47.<masked>'],
    'pagerduty-api-key': ['Authorization: Token token=<your-api-key>', 'PAGERDUTY_API_KEY=${PD_KEY}'],
    'splunk-hec-token': ['Authorization: Splunk <hec_token>', 'Authorization: Splunk 1234EXAMPLEKEY', 'SPLUNK_HEC_TOKEN=00000000-0000-0000-0000-000000000000'],
    'elastic-api-key': ['curl -H "Authorization: ApiKey ${API_KEY}" "${ES_URL}/_cat/indices"', 'export EC_API_KEY="YOUR_GENERATED_API_KEY"'],
    'facebook-access-token': ['"access_token": "EAACEdE..."', 'page tokens look like EAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    'twitter-bearer-token': [
      'Authorization: Bearer AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F',
      'BEARER_TOKEN=AAAAAAAAAAAAAAAAAAAAA<rest-of-token>',
    ],
    'twitter-api-key': ['the OAuth 1.0a docs sign with twitter consumer key xvz1evFS4wEEPTGEFPHBog', 'TWITTER_API_KEY=<api-key>'],
    'twitter-api-secret': ['the docs use twitter consumer secret kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw', 'and twitter access token secret LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE in the signing example'],
    'twitter-access-token': ['the signing example uses twitter access token 370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb'],
    'okta-api-token': ['Authorization: SSWS 00QCjAl4MlV-WPXM...0HmjFx-vbGua', 'Authorization: SSWS ${OKTA_API_TOKEN}'],
    'hubspot-private-app-token': ['Authorization: Bearer pat-na1-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', 'Authorization: Bearer ***-***-*********-****-****-****-************'],
    'mapbox-secret-token': ['the public token pk.eyJ1IjoibWFwYm94IiwiYSI6ImNpejY4M29iazA2Z2gycXA4N2pmbDZmangifQ.-g_vE53SD2WrJ6tFX7QHmA is fine to ship in the app', 'sk.eyJ1IjoiPHVzZXI+IiwiYSI6Ijx0b2tlbj4ifQ.<signature>'],
    'dropbox-short-lived-token': ['short-lived tokens start with sl. and expire after four hours'],
    'launchdarkly-sdk-key': ['LAUNCHDARKLY_SDK_KEY=sdk-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', 'sdk keys always start with the prefix sdk-'],
    'shippo-live-token': ['Authorization: ShippoToken shippo_live_<API_TOKEN>'],
    'zapier-webhook-url': ['https://hooks.zapier.com/hooks/catch/<account>/<hook>/', 'https://hooks.zapier.com/hooks/catch/XXXXXX/XXXXXX/'],
    'lob-api-key': ['the lob publishable key live_pub_5f2f1c8d9e0a7b6c4d3e2f1a0b9c8d7e6 goes in the browser', 'LOB_API_KEY=live_<secret-key>'],
  },
};
