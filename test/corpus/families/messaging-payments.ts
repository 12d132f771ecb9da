/** Corpus generators for the messaging-payments detectors (rules/secrets-messaging-payments.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, DIGITS, digits, HEX, int, pick, token, UPPER, URLSAFE, type Family } from '../random';

export const family: Family = {
  values: {
  'slack-bot-token': (r) => `xoxb-${digits(r, 12)}-${digits(r, 13)}-${token(r, ALNUM, 24)}`,
  'slack-user-token': (r) => `xoxp-${digits(r, 12)}-${digits(r, 12)}-${digits(r, 13)}-${token(r, HEX, 32)}`,
  'slack-app-token': (r) => `xapp-1-A${token(r, UPPER + DIGITS, 10)}-${digits(r, 13)}-${token(r, HEX, 64)}`,
  'slack-webhook-url': (r) => `https://hooks.slack.com/services/T${token(r, UPPER + DIGITS, 8)}/B${token(r, UPPER + DIGITS, 10)}/${token(r, ALNUM, 24)}`,
  'stripe-secret-key': (r) => 'sk_live_' + token(r, ALNUM, int(r, 24, 99)),
  'stripe-restricted-key': (r) => 'rk_live_' + token(r, ALNUM, int(r, 24, 99)),
  'twilio-api-key': (r) => 'SK' + token(r, HEX, 32),
  'twilio-auth-token': (r) => token(r, HEX, 32),
  'sendgrid-api-key': (r) => `SG.${token(r, URLSAFE, 22)}.${token(r, URLSAFE, 43)}`,
  'shopify-access-token': (r) => pick(r, ['shpat_', 'shpca_', 'shppa_']) + token(r, HEX, 32),
  'shopify-shared-secret': (r) => 'shpss_' + token(r, HEX, 32),
  'mailgun-api-key': (r) => 'key-' + token(r, HEX, 32),
  'mailchimp-api-key': (r) => `${token(r, HEX, 32)}-us${int(r, 1, 21)}`,
  'discord-bot-token': (r) => `${pick(r, ['M', 'N'])}${token(r, ALNUM, 25)}.${token(r, URLSAFE, 6)}.${token(r, URLSAFE, 38)}`,
  'telegram-bot-token': (r) => `${digits(r, 10)}:AA${token(r, URLSAFE, 33)}`,
  'square-access-token': (r) => 'EAAA' + token(r, URLSAFE, 60),
  'square-oauth-secret': (r) => pick(r, ['sq0atp-', 'sq0csp-']) + token(r, URLSAFE, 43),
  },
  contexts: {
  'twilio-auth-token': [(v) => `twilio auth token: ${v}`, (v) => `TWILIO_AUTH_TOKEN=${v}`],
  'discord-bot-token': [(v) => `discord bot token ${v}`, (v) => `DISCORD_TOKEN=${v} for the discord bot`],
  },
  nearMisses: {
  'slack-bot-token': ['xoxb-your-bot-token', 'SLACK_BOT_TOKEN=xoxb-...'],
  'slack-webhook-url': ['https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX'],
  'stripe-secret-key': ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', 'sk_live_xxxxxxxxxxxxxxxxxxxxxxxx', 'STRIPE_KEY=sk_live_${KEY}'],
  },
};
