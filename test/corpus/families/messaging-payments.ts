/** Corpus generators for the messaging-payments detectors (rules/secrets-messaging-payments.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, B64, chars, DIGITS, digits, HEX, int, LOWER, pick, rng, token, UPPER, URLSAFE, type Family, type Rng } from '../random';

const uuid = (r: Rng) => `${chars(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${chars(r, HEX, 3)}-${chars(r, HEX, 12)}`;
/** Digits without a leading zero, as ids are written. */
const id = (r: Rng, n: number) => String(int(r, 1, 9)) + digits(r, n - 1);

/** A Discord bot token: base64 of the bot's snowflake id (17-19 digits), a timestamp part, an HMAC part. */
const discordToken = (r: Rng) =>
  `${Buffer.from(id(r, int(r, 17, 19))).toString('base64').replace(/=+$/, '')}.${token(r, URLSAFE, 6)}.${token(r, URLSAFE, pick(r, [27, 38]))}`;

/** Keyed leaks: the value next to the names people give it, in the shapes chat carries. */
const keyed = (...names: string[]): ((v: string, r: Rng) => string)[] =>
  names.flatMap((n) => [
    (v: string) => `${n}=${v}`,
    (v: string) => `export ${n}="${v}"`,
    (v: string) => `${n.toLowerCase()}: ${v}`,
    (v: string) => `{"${n.toLowerCase()}": "${v}"}`,
  ]);

// Fixed-seed values for near misses: the right shape, the wrong context or length.
const nr = rng(20240611);

export const family: Family = {
  values: {
    'slack-bot-token': (r) => (r() < 0.8 ? `xoxb-${id(r, int(r, 10, 13))}-${id(r, int(r, 10, 13))}-${token(r, ALNUM, 24)}` : `xoxb-${id(r, int(r, 10, 12))}-${token(r, ALNUM, 24)}`),
    'slack-user-token': (r) =>
      r() < 0.8 ? `xoxp-${id(r, 12)}-${id(r, 12)}-${id(r, 13)}-${token(r, HEX, 32)}` : `xoxp-${id(r, 10)}-${id(r, 10)}-${id(r, 11)}-${token(r, HEX, int(r, 6, 32))}`,
    'slack-app-token': (r) => `xapp-1-A${token(r, UPPER + DIGITS, 10)}-${id(r, 13)}-${token(r, HEX, 64)}`,
    'slack-refresh-token': (r) => `xoxe-1-${token(r, ALNUM, int(r, 130, 160))}`,
    'slack-rotating-token': (r) => `xoxe.${pick(r, ['xoxp', 'xoxb'])}-1-${token(r, ALNUM, int(r, 130, 170))}`,
    'slack-workspace-token': (r) =>
      r() < 0.5 ? `xoxa-2-${id(r, 12)}-${id(r, 12)}-${id(r, 12)}-${token(r, HEX, 64)}` : `xoxr-${id(r, 12)}-${id(r, 12)}-${token(r, HEX, 48)}`,
    'slack-legacy-token': (r) => `${pick(r, ['xoxs', 'xoxo'])}-${id(r, 10)}-${id(r, 11)}-${id(r, 12)}-${token(r, HEX, 64)}`,
    'slack-session-token': (r) =>
      r() < 0.5 ? `xoxc-${id(r, 12)}-${id(r, 12)}-${id(r, 13)}-${token(r, HEX, 64)}` : `xoxd-${token(r, ALNUM, 40)}%2F${token(r, ALNUM, 30)}%2B${token(r, ALNUM, 20)}%3D%3D`,
    'slack-webhook-url': (r) => {
      if (r() < 0.1) return `https://${chars(r, LOWER, 6)}.slack.com/services/hooks/incoming-webhook?token=${token(r, ALNUM, 24)}`;
      return `${r() < 0.15 ? 'http' : 'https'}://hooks.slack.com/services/T${token(r, UPPER + DIGITS, int(r, 8, 10))}/B${token(r, UPPER + DIGITS, int(r, 8, 11))}/${token(r, ALNUM, 24)}`;
    },
    'slack-workflow-webhook-url': (r) =>
      r() < 0.5
        ? `https://hooks.slack.com/workflows/T${token(r, UPPER + DIGITS, int(r, 8, 10))}/A${token(r, UPPER + DIGITS, 10)}/${id(r, 18)}/${token(r, ALNUM, 24)}`
        : `https://hooks.slack.com/triggers/T${token(r, UPPER + DIGITS, int(r, 8, 10))}/${id(r, int(r, 10, 14))}/${token(r, HEX, 32)}`,
    'slack-signing-secret': (r) => token(r, HEX, 32),
    'discord-bot-token': discordToken,
    'discord-webhook-url': (r) =>
      `https://${pick(r, ['', '', 'ptb.', 'canary.'])}${pick(r, ['discord.com', 'discord.com', 'discordapp.com'])}/api${pick(r, ['', '', '/v10'])}/webhooks/${id(r, int(r, 18, 19))}/${token(r, URLSAFE, 68)}`,
    'telegram-bot-token': (r) => `${id(r, int(r, 8, 10))}:AA${token(r, URLSAFE, 33)}`,
    'microsoft-teams-webhook-url': (r) =>
      r() < 0.8
        ? `https://${chars(r, LOWER, int(r, 4, 12))}.webhook.office.com/webhookb2/${uuid(r)}@${uuid(r)}/IncomingWebhook/${token(r, HEX, 32)}/${uuid(r)}${r() < 0.5 ? `/V2${token(r, URLSAFE, 43)}` : ''}`
        : `https://outlook.office.com/webhook/${uuid(r)}@${uuid(r)}/IncomingWebhook/${token(r, HEX, 32)}/${uuid(r)}`,
    'microsoft-teams-workflow-webhook-url': (r) =>
      r() < 0.6
        ? `https://default${chars(r, HEX, 30)}.${chars(r, HEX, 2)}.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/${token(r, HEX, 32)}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${token(r, URLSAFE, 43)}`
        : `https://prod-${int(r, 10, 99)}.${pick(r, ['westus', 'westeurope', 'eastus2', 'uksouth'])}.logic.azure.com:443/workflows/${token(r, HEX, 32)}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${token(r, URLSAFE, 43)}`,
    'twilio-api-key': (r) => 'SK' + token(r, HEX, 32),
    'twilio-auth-token': (r) => token(r, HEX, 32),
    'twilio-api-secret': (r) => token(r, ALNUM, 32),
    'twilio-account-credentials': (r) => token(r, HEX, 32),
    'sendgrid-api-key': (r) => `SG.${token(r, URLSAFE, 22)}.${token(r, URLSAFE, 43)}`,
    'mailgun-api-key': (r) => 'key-' + token(r, r() < 0.5 ? HEX : LOWER + DIGITS, 32),
    'mailgun-private-api-key': (r) => `${token(r, HEX, 32)}-${token(r, HEX, 8)}-${token(r, HEX, 8)}`,
    'mailgun-webhook-signing-key': (r) => token(r, HEX, 32),
    'mailchimp-api-key': (r) => `${token(r, HEX, 32)}-us${int(r, 1, 21)}`,
    'mandrill-api-key': (r) => (r() < 0.3 ? 'md-' : '') + token(r, URLSAFE, 22),
    'postmark-server-token': uuid,
    'postmark-account-token': uuid,
    'brevo-api-key': (r) => `xkeysib-${token(r, HEX, 64)}-${token(r, ALNUM, 16)}`,
    'brevo-smtp-key': (r) => `xsmtpsib-${token(r, HEX, 64)}-${token(r, ALNUM, 16)}`,
    'mailjet-api-key': (r) => token(r, HEX, 32),
    'vonage-api-secret': (r) => token(r, ALNUM, 16),
    'stripe-secret-key': (r) => (r() < 0.5 ? 'sk_live_' + token(r, ALNUM, 24) : 'sk_live_51' + token(r, ALNUM, int(r, 90, 105))),
    'stripe-restricted-key': (r) => (r() < 0.5 ? 'rk_live_' + token(r, ALNUM, 24) : 'rk_live_51' + token(r, ALNUM, int(r, 90, 105))),
    'stripe-test-secret-key': (r) => (r() < 0.5 ? 'sk_test_' + token(r, ALNUM, 24) : 'sk_test_51' + token(r, ALNUM, int(r, 90, 105))),
    'stripe-test-restricted-key': (r) => (r() < 0.5 ? 'rk_test_' + token(r, ALNUM, 24) : 'rk_test_51' + token(r, ALNUM, int(r, 90, 105))),
    'stripe-webhook-secret': (r) => 'whsec_' + (r() < 0.6 ? token(r, ALNUM, 32) : token(r, HEX, 64)),
    'paystack-secret-key': (r) => 'sk_live_' + token(r, HEX, 40),
    'paystack-test-secret-key': (r) => 'sk_test_' + token(r, HEX, 40),
    'square-access-token': (r) => 'EAAA' + token(r, URLSAFE, 60),
    'square-oauth-secret': (r) => (r() < 0.5 ? 'sq0atp-' + token(r, URLSAFE, 22) : 'sq0csp-' + token(r, URLSAFE, 43)),
    'braintree-access-token': (r) => `access_token$production$${token(r, LOWER + DIGITS, 16)}$${token(r, HEX, 32)}`,
    'braintree-sandbox-access-token': (r) => `access_token$sandbox$${token(r, LOWER + DIGITS, 16)}$${token(r, HEX, 32)}`,
    'braintree-private-key': (r) => token(r, HEX, 32),
    'paypal-access-token': (r) => 'A21AA' + token(r, URLSAFE, int(r, 88, 95)),
    'paypal-client-secret': (r) => 'E' + token(r, URLSAFE, 79),
    'adyen-api-key': (r) => `AQE${chars(r, LOWER, 1)}hm${chars(r, LOWER, 2)}${token(r, B64, 66)}==-${token(r, B64, 43)}=-${token(r, ALNUM + ';+:?=', int(r, 12, 19))}`,
    'plaid-access-token': (r) => `${pick(r, ['access', 'access', 'processor', 'asset-report'])}-${pick(r, ['production', 'development'])}-${uuid(r)}`,
    'plaid-sandbox-access-token': (r) => `${pick(r, ['access', 'access', 'processor'])}-sandbox-${uuid(r)}`,
    'plaid-secret': (r) => token(r, HEX, 30),
    'coinbase-cdp-api-key-name': (r) => `organizations/${uuid(r)}/apiKeys/${uuid(r)}`,
    'coinbase-cdp-api-key-secret': (r) => token(r, B64, 86) + '==',
    'coinbase-legacy-api-secret': (r) => token(r, ALNUM, 32),
    'shopify-access-token': (r) => pick(r, ['shpat_', 'shpca_', 'shppa_', 'shpua_']) + token(r, HEX, 32),
    'shopify-shared-secret': (r) => 'shpss_' + token(r, HEX, 32),
    'shopify-refresh-token': (r) => 'shprt_' + token(r, r() < 0.5 ? HEX : ALNUM, int(r, 32, 64)),
    'razorpay-key-secret': (r) => token(r, ALNUM, 24),
    'flutterwave-secret-key': (r) => `FLWSECK-${token(r, HEX, 32)}-X`,
    'flutterwave-test-secret-key': (r) => `FLWSECK_TEST-${token(r, HEX, 32)}-X`,
    'flutterwave-test-encryption-key': (r) => `FLWSECK_TEST${token(r, HEX, 12)}`,
    'mollie-api-key': (r) => 'live_' + token(r, ALNUM, 30),
    'mollie-test-api-key': (r) => 'test_' + token(r, ALNUM, 30),
    'gocardless-access-token': (r) => 'live_' + token(r, URLSAFE, 40),
    'gocardless-sandbox-access-token': (r) => 'sandbox_' + token(r, URLSAFE, 40),
  },
  contexts: {
    'slack-signing-secret': [...keyed('SLACK_SIGNING_SECRET', 'SLACK_CLIENT_SECRET'), (v) => `the slack signing secret is ${v}`, (v) => `slack:\n  signing_secret: "${v}"`],
    'discord-bot-token': [
      (v) => `here you go: ${v}`,
      (v) => `can someone check why ${v} stopped working?`,
      (v) => `\`${v}\``,
      (v) => `${v}`,
      (v) => `config:\n\`\`\`\nTOKEN=${v}\n\`\`\``,
      (v) => `DISCORD_TOKEN=${v} for the discord bot`,
      (v) => `client.login("${v}");`,
      (v) => `Authorization: Bot ${v}`,
    ],
    'twilio-auth-token': [
      ...keyed('TWILIO_AUTH_TOKEN'),
      (v) => `twilio auth token: ${v}`,
      (v) => `twilio:\n  auth_token: ${v}`,
      (v, r) => `twilio:\n  account_sid: AC${token(r, HEX, 32)}\n  auth_token: ${v}`,
    ],
    'twilio-api-secret': [...keyed('TWILIO_API_SECRET'), (v) => `twilio api key secret is ${v}`],
    'twilio-account-credentials': [
      (v, r) => `client = Client("AC${token(r, HEX, 32)}", "${v}")`,
      (v, r) => `curl -u AC${token(r, HEX, 32)}:${v} https://api.twilio.com/2010-04-01/Accounts.json`,
      (v, r) => `const client = twilio('AC${token(r, HEX, 32)}', '${v}');`,
    ],
    'mailgun-private-api-key': [
      ...keyed('MAILGUN_API_KEY', 'MAILGUN_SENDING_KEY'),
      (v) => `new mailgun key for prod: ${v}`,
      (v) => `mailgun:\n  api_key: ${v}`,
      (v) => `const mg = mailgun.client({ username: 'api', key: '${v}' });`,
    ],
    'mailgun-webhook-signing-key': [...keyed('MAILGUN_WEBHOOK_SIGNING_KEY'), (v) => `the mailgun http webhook signing key is ${v}`],
    'mandrill-api-key': [...keyed('MANDRILL_API_KEY'), (v) => `X-MC-ApiKey: ${v}`, (v) => `mandrill key: ${v}`],
    'postmark-server-token': [...keyed('POSTMARK_API_TOKEN', 'POSTMARK_SERVER_TOKEN'), (v) => `X-Postmark-Server-Token: ${v}`],
    'postmark-account-token': [...keyed('POSTMARK_ACCOUNT_TOKEN'), (v) => `X-Postmark-Account-Token: ${v}`],
    'mailjet-api-key': [...keyed('MJ_APIKEY_PRIVATE', 'MAILJET_SECRET_KEY', 'MAILJET_API_KEY'), (v) => `mailjet secret key: ${v}`],
    'vonage-api-secret': [...keyed('VONAGE_API_SECRET', 'NEXMO_API_SECRET'), (v) => `vonage api secret is ${v}`],
    'braintree-private-key': [
      ...keyed('BRAINTREE_PRIVATE_KEY'),
      (v) => `braintree:\n  private_key: '${v}'`,
      (v, r) => `braintree:\n  environment: production\n  merchant_id: ${token(r, LOWER + DIGITS, 16)}\n  public_key: ${token(r, LOWER + DIGITS, 16)}\n  private_key: ${v}`,
    ],
    'paypal-client-secret': [...keyed('PAYPAL_CLIENT_SECRET', 'PAYPAL_SECRET'), (v) => `paypal client secret: ${v}`],
    'plaid-secret': [
      ...keyed('PLAID_SECRET', 'PLAID_SANDBOX_SECRET'),
      (v) => `plaid production secret is ${v}`,
      (v, r) => `plaid:\n  client_id: ${token(r, HEX, 24)}\n  secret: ${v}`,
    ],
    'coinbase-cdp-api-key-secret': [...keyed('CDP_API_KEY_SECRET', 'COINBASE_API_SECRET'), (v) => `coinbase private key: "${v}"`],
    'coinbase-legacy-api-secret': [...keyed('COINBASE_API_SECRET'), (v) => `coinbase secret is ${v}`],
    'razorpay-key-secret': [
      ...keyed('RAZORPAY_KEY_SECRET', 'RAZORPAY_SECRET'),
      (v, r) => `curl -u rzp_live_${token(r, ALNUM, 14)}:${v} https://api.razorpay.com/v1/payments`,
      (v, r) => `client = razorpay.Client(auth=("rzp_test_${token(r, ALNUM, 14)}", "${v}"))`,
    ],
  },
  nearMisses: {
    'slack-bot-token': ['xoxb-your-bot-token', 'SLACK_BOT_TOKEN=xoxb-...', `xoxb-${digits(nr, 12)}-${digits(nr, 13)}-${token(nr, ALNUM, 12)}`],
    'slack-user-token': ['xoxp-12345-67890-1928471-abcdefg', 'SLACK_USER_TOKEN=xoxp-<token>', 'user tokens start with xoxp- and bot tokens with xoxb-'],
    'slack-refresh-token': ['"refresh_token": "xoxe-..."', `xoxe-1-${token(nr, ALNUM, 20)}`],
    'slack-rotating-token': ['"token": "xoxe.xoxp-..."'],
    'slack-webhook-url': [
      'https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX',
      'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX',
      'post to https://hooks.slack.com/services/... from the job',
    ],
    'slack-workflow-webhook-url': ['https://hooks.slack.com/triggers/T.../...', 'https://hooks.slack.com/workflows/T00000000/A00000000/123/xxxxxxxxxxxxxxxxxxxxxxxx'],
    'slack-signing-secret': ['SLACK_SIGNING_SECRET=${SLACK_SIGNING_SECRET}', 'slack signing secret: <from the app page>'],
    'discord-bot-token': ['DISCORD_TOKEN=<your bot token>', 'discord bot token: MTAxxxxxxxxxxxxxxxxxxxxxxx.xxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxx'],
    'discord-webhook-url': ['https://discord.com/api/webhooks/{webhook.id}/{webhook.token}'],
    'telegram-bot-token': ['TELEGRAM_BOT_TOKEN=110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11', 'BOT_TOKEN=<bot id>:AA<secret>'],
    'microsoft-teams-webhook-url': ['https://yourtenant.webhook.office.com/webhookb2/xxxx...'],
    'microsoft-teams-workflow-webhook-url': [
      `https://default${chars(nr, HEX, 30)}.${chars(nr, HEX, 2)}.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/${token(nr, HEX, 32)}/triggers/manual/paths/invoke?api-version=1`,
    ],
    'twilio-api-key': ["const apiKey = 'SKXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX';", `SK${token(nr, HEX, 20)}`],
    'twilio-auth-token': ['TWILIO_AUTH_TOKEN=your_auth_token', 'twilio auth token: ${TWILIO_AUTH_TOKEN}', `the twilio token is in vault, sha ${chars(nr, HEX, 40)}`],
    'twilio-account-credentials': ['client = Client("ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "your_auth_token")', `account AC${token(nr, HEX, 32)} is the staging one`],
    'mailgun-api-key': [
      'MAILGUN_API_KEY=key-000000000000000000',
      'MAILGUN_API_KEY=key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      // Mailgun's documentation example (samples.mailgun.org).
      "curl -s --user 'api:key-3ax6xnjp29jd6fds4gc373sgvjxteol0' https://api.mailgun.net/v3/samples.mailgun.org/messages",
    ],
    'mailgun-private-api-key': [`the build ${token(nr, HEX, 32)}-${token(nr, HEX, 8)}-${token(nr, HEX, 8)} finished`],
    'mailchimp-api-key': ['MAILCHIMP_API_KEY=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-us6'],
    'postmark-server-token': ['X-Postmark-Server-Token: POSTMARK_API_TEST', `postmark request id ${uuid(nr)} bounced`],
    'mailjet-api-key': ['MJ_APIKEY_PRIVATE=your_private_key', `mailjet message id ${token(nr, HEX, 32)} delivered`],
    'stripe-secret-key': ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx', 'STRIPE_KEY=sk_live_${KEY}'],
    // Keys Stripe's documentation publishes.
    'stripe-test-secret-key': ['STRIPE_SECRET_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc', "curl https://api.stripe.com/v1/charges -u sk_test_BQokikJOvBiI2HlWgH4olfQ2:", "stripe.api_key = 'sk_test_26PHem9AhJZvU623DfE1x4sd'", 'STRIPE_SECRET_KEY=sk_test_...'],
    'stripe-webhook-secret': ['STRIPE_WEBHOOK_SECRET=whsec_...', "endpoint_secret = 'whsec_<your secret>'"],
    'paystack-test-secret-key': ['PAYSTACK_SECRET_KEY=sk_test_your_paystack_secret_key'],
    'braintree-access-token': ['access_token$production$<merchant id>$<token>'],
    'paypal-access-token': [
      // The token PayPal's REST guide shows.
      '"access_token": "A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg"',
      "curl -H 'Authorization: Bearer A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj68elIDy8nF26AwPhfXTIeWAZHSLIsQkSYz9ifg' https://api-m.sandbox.paypal.com/v1/notifications/webhooks",
      '"access_token": "A21AAxxxxxxxxxxxxxxxxxxxxxx"',
    ],
    'adyen-api-key': ['ADYEN_API_KEY=AQE...', 'ADYEN_API_KEY=AQExxxxxxxxxxxxxxxxxx'],
    'plaid-access-token': ['access-production-<uuid>', `public-production-${uuid(nr)}`],
    'plaid-sandbox-access-token': ['access-sandbox-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', `link-sandbox-${uuid(nr)}`],
    'coinbase-cdp-api-key-name': ['organizations/{org_id}/apiKeys/{key_id}'],
    'shopify-access-token': ['X-Shopify-Access-Token: shpat_xxx', 'SHOPIFY_ACCESS_TOKEN=shpat_<token>'],
    'flutterwave-test-secret-key': ['FLWPUBK_TEST-32193bba8dab84e3d9c4525c85ea7a12-X', 'FLWSECK_TEST-...'],
    'mollie-test-api-key': ['curl https://api.mollie.com/v2/payments -H "Authorization: Bearer test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"', 'def test_handles_refunds_for_partial_orders_v2():'],
    'gocardless-sandbox-access-token': ['GOCARDLESS_ACCESS_TOKEN=sandbox_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'GOCARDLESS_ACCESS_TOKEN=sandbox_...'],
  },
};
