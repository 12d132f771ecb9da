/** Corpus generators for the cloud detectors (rules/secrets-cloud.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, B64, chars, HEX, int, pick, token, UPPER, URLSAFE, type Family } from '../random';

export const family: Family = {
  values: {
  'aws-access-key-id': (r) => pick(r, ['AKIA', 'ASIA']) + token(r, UPPER + '234567', 16),
  'aws-secret-access-key': (r) => token(r, B64, 40),
  'google-api-key': (r) => 'AIza' + token(r, URLSAFE, 35),
  'google-oauth-client-secret': (r) => 'GOCSPX-' + token(r, URLSAFE, 28),
  'gcp-service-account-key': (r) => token(r, HEX, 40),
  'azure-storage-account-key': (r) => token(r, B64, 86) + '==',
  'azure-ad-client-secret': (r) => `${token(r, ALNUM, 3)}${int(r, 0, 9)}Q~${token(r, ALNUM + '_~.-', 34)}`,
  'heroku-api-key': (r) => `${token(r, HEX, 8)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${token(r, HEX, 12)}`,
  'heroku-api-key-v2': (r) => 'HRKU-AA' + token(r, URLSAFE, 58),
  'digitalocean-token': (r) => pick(r, ['dop_v1_', 'doo_v1_', 'dor_v1_']) + token(r, HEX, 64),
  'databricks-token': (r) => 'dapi' + token(r, HEX, 32),
  },
  contexts: {
  'aws-secret-access-key': [(v) => `aws_secret_access_key = ${v}`, (v) => `AWS secret key: ${v}`, (v) => `export AWS_SECRET_ACCESS_KEY="${v}"`],
  'gcp-service-account-key': [(v) => `{"type": "service_account", "project_id": "acme-prod", "private_key_id": "${v}", "client_email": "ci@acme-prod.iam.gserviceaccount.com"}`],
  'heroku-api-key': [(v) => `heroku api key is ${v}`, (v) => `HEROKU_API_KEY=${v}`],
  'azure-storage-account-key': [(v) => `DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${v};EndpointSuffix=core.windows.net`],
  },
  nearMisses: {
  'aws-access-key-id': ['AKIAIOSFODNN7EXAMPLE', 'AKIAXXXXXXXXXXXXXXXX', 'use an AKIA… key id here'],
  'aws-secret-access-key': ['aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}', 'aws secret key: ****************************************'],
  },
};
