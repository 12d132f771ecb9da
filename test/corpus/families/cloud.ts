/** Corpus generators for the cloud detectors (rules/secrets-cloud.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, B64, chars, digits, DIGITS, HEX, int, LOWER, pick, token, UPPER, URLSAFE, type Family, type Rng } from '../random';

const BASE32_LOWER = LOWER + '234567';
const HEX_UPPER = '0123456789ABCDEF';
const UPPER_ALNUM = UPPER + DIGITS;

const uuid = (r: Rng) => `${token(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${chars(r, HEX, 3)}-${token(r, HEX, 12)}`;
/** A short lowercase name for hosts and resources. */
const name = (r: Rng) => `${pick(r, ['acme', 'orders', 'billing', 'prod', 'ops', 'data'])}${chars(r, LOWER + DIGITS, 4)}`;
/** A password a person would choose under a complexity policy: letters, digits and a symbol. */
const password = (r: Rng) => `${pick(r, ['Winter', 'Harbor', 'Falcon', 'Copper', 'Maple', 'Quartz'])}${digits(r, 3)}${pick(r, ['!', '#', '@', '^', '*'])}${token(r, ALNUM, 5)}`;
/** Base64 of `n` bytes of key material, padded as the provider prints it. */
const b64key = (r: Rng, n: number, pad: string) => token(r, B64, n) + pad;
/**
 * Microsoft's identifiable keys: base64 key material with a fixed service signature near the end
 * (+ASt storage, ACDb Cosmos DB, +ASb Service Bus, AzFu Functions, …), as the legacy random form.
 */
const identifiable88 = (r: Rng, signature: string) => `${token(r, B64, 76)}${signature}${token(r, B64, 5)}${pick(r, ['A', 'Q', 'g', 'w'])}==`;
const identifiable44 = (r: Rng, signature: string) => `${token(r, B64, 33)}${signature}${pick(r, [...'ABCDEFGHIJKLMNOP'])}${token(r, B64, 5)}=`;

/** The published AWS example key id: a real-format neighbour that no detector reports. */
const EXAMPLE_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
/** The first bytes every STS/SSO session token starts with, base64 (AQoDYXdz appears in AWS's own examples). */
const SESSION_PREFIXES = ['IQoJb3JpZ2luX2Vj', 'IQoJb3JpZ2luX2Vj', 'IQoJb3JpZ2luX2Vj', 'FwoGZXIvYXdzE', 'FQoGZXIvYXdzE', 'AQoDYXdzE'];
/** The start of a short-term key: base64 of the presigned URL's fixed head (whole 3-byte groups, so no padding). */
const PRESIGN_HEAD = 'bedrock.amazonaws.com/?Action=CallWithBearerToken&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=';
const BEDROCK_PRESIGN_HEAD = Buffer.from(PRESIGN_HEAD.slice(0, PRESIGN_HEAD.length - (PRESIGN_HEAD.length % 3))).toString('base64');

/** Only the characters a URL query must escape in a base64 value. */
const urlEncode = (v: string) => v.replace(/\+/g, '%2B').replace(/\//g, '%2F').replace(/=/g, '%3D');

export const family: Family = {
  values: {
  // AWS
  'aws-access-key-id': (r) => pick(r, ['AKIA', 'AKIA', 'ASIA', 'ASIA', 'ABIA', 'ACCA']) + token(r, UPPER + '234567', 16),
  'aws-secret-access-key': (r) => token(r, B64, 40),
  'aws-secret-access-key-after-id': (r) => token(r, B64, 40),
  'aws-secret-access-key-before-id': (r) => token(r, B64, 40),
  'aws-session-token': (r) => pick(r, SESSION_PREFIXES) + token(r, B64, int(r, 200, 600)) + pick(r, ['', '=', '==']),
  'aws-session-token-keyed': (r) => token(r, B64, int(r, 160, 500)) + pick(r, ['', '=']),
  'aws-bedrock-api-key': (r) => 'ABSK' + Buffer.from(`BedrockAPIKey-${token(r, LOWER + DIGITS, 4)}-at-${digits(r, 12)}:${token(r, B64, 44)}`).toString('base64'),
  'aws-bedrock-api-key-short-term': (r) => 'bedrock-api-key-' + BEDROCK_PRESIGN_HEAD + token(r, B64, int(r, 900, 1400)) + pick(r, ['', '=', '==']),
  'amazon-mws-auth-token': (r) => `amzn.mws.${uuid(r)}`,
  // Google
  'google-api-key': (r) => 'AIza' + token(r, URLSAFE, 35),
  'google-oauth-client-secret': (r) => 'GOCSPX-' + token(r, URLSAFE, 28),
  'google-oauth-client-secret-legacy': (r) => token(r, URLSAFE, 24),
  'gcp-service-account-key': (r) => token(r, HEX, 40),
  'google-oauth-refresh-token': (r) => `1//0${pick(r, ['g', 'e', 'c', 'd', '4', '9'])}${token(r, URLSAFE, int(r, 60, 100))}`,
  'google-oauth-access-token': (r) => `ya29.${pick(r, ['a0', 'A0', 'c.'])}${token(r, URLSAFE, int(r, 100, 220))}`,
  'firebase-fcm-server-key': (r) => `AAAA${token(r, URLSAFE, 7)}:APA91b${token(r, URLSAFE, 134)}`,
  // Azure
  'azure-storage-account-key': (r) => (r() < 0.3 ? identifiable88(r, '+ASt') : b64key(r, 86, '==')),
  'azure-cosmosdb-key': (r) => (r() < 0.3 ? identifiable88(r, 'ACDb') : b64key(r, 86, '==')),
  'azure-ad-client-secret': (r) => `${token(r, ALNUM, 3)}${pick(r, ['7', '8'])}Q~${token(r, ALNUM + '_~.-', 34)}`,
  'azure-ad-client-secret-keyed': (r) => (r() < 0.5 ? token(r, ALNUM + '._-:@?', pick(r, [32, 34])) : b64key(r, 43, '=')),
  'azure-sas-token': (r) => (r() < 0.5 ? b64key(r, 43, '=') : urlEncode(b64key(r, 43, '='))),
  'azure-shared-access-key': (r) => (r() < 0.3 ? identifiable44(r, pick(r, ['+ASb', '+AEh', 'AIoT'])) : b64key(r, 43, '=')),
  'azure-sql-connection-password': (r) => password(r),
  'azure-devops-pat': (r) => token(r, BASE32_LOWER, 52),
  'azure-annotated-key': (r) =>
    `${token(r, ALNUM, 52)}JQQJ9${pick(r, ['9', 'D', 'H'])}${chars(r, ALNUM, 1)}${pick(r, [...'ABCDEFGHIJKL'])}${token(r, ALNUM, 16)}${pick(r, ['AZDO', 'ACOG', 'AZEG', 'AZSE'])}${token(r, ALNUM, 4)}`,
  'azure-openai-key': (r) => token(r, HEX, 32),
  'azure-search-key': (r) => (r() < 0.5 ? token(r, HEX_UPPER, 32) : `${token(r, ALNUM, 42)}AzSe${pick(r, ['A', 'B', 'C', 'D'])}${token(r, ALNUM, 5)}`),
  'azure-functions-key': (r) => (r() < 0.4 ? `${token(r, URLSAFE, 44)}AzFu${token(r, URLSAFE, 5)}${pick(r, ['A', 'Q', 'g', 'w'])}==` : b64key(r, 54, '==')),
  'azure-container-registry-password': (r) => (r() < 0.4 ? `${token(r, B64, 42)}+ACR${pick(r, ['A', 'B', 'C', 'D'])}${token(r, B64, 5)}` : token(r, B64, 32)),
  'azure-redis-key': (r) => (r() < 0.3 ? identifiable44(r, 'AzCa') : b64key(r, 43, '=')),
  // Other clouds and hosts
  'alibaba-access-key-id': (r) => 'LTAI' + (r() < 0.6 ? '5t' + token(r, ALNUM, 18) : token(r, ALNUM, 12)),
  'alibaba-access-key-secret': (r) => token(r, ALNUM, 30),
  'tencent-secret-id': (r) => 'AKID' + token(r, ALNUM, 32),
  'tencent-secret-key': (r) => token(r, ALNUM, 32),
  'ibm-cloud-api-key': (r) => token(r, URLSAFE, 44),
  'digitalocean-token': (r) => pick(r, ['dop_v1_', 'doo_v1_', 'dor_v1_', 'dos_v1_']) + token(r, HEX, 64),
  'digitalocean-spaces-secret-key': (r) => token(r, B64, 43),
  'linode-token': (r) => token(r, HEX, 64),
  'vultr-api-key': (r) => token(r, UPPER_ALNUM, 36),
  'scaleway-access-key': (r) => 'SCW' + token(r, UPPER_ALNUM, 17),
  'scaleway-secret-key': (r) => uuid(r),
  'heroku-api-key': (r) => `${token(r, HEX, 8)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${chars(r, HEX, 4)}-${token(r, HEX, 12)}`,
  'heroku-api-key-v2': (r) => 'HRKU-AA' + token(r, URLSAFE, 58),
  'flyio-token': (r) => {
    const macaroon = () => `fm2_${token(r, B64, int(r, 180, 360))}${pick(r, ['', '=', '=='])}`;
    const kind = r();
    return kind < 0.4 ? macaroon() : kind < 0.7 ? `${macaroon()},${macaroon()}` : `fo1_${token(r, URLSAFE, 43)}`;
  },
  'netlify-token': (r) => pick(r, ['nfp_', 'nfp_', 'nfc_', 'nfo_', 'nfu_', 'nfb_']) + token(r, ALNUM, 36),
  'netlify-token-legacy': (r) => token(r, URLSAFE, 43),
  'vercel-token': (r) => pick(r, ['vcp_', 'vcp_', 'vci_', 'vca_', 'vcr_', 'vck_']) + token(r, ALNUM, int(r, 40, 60)),
  'vercel-token-legacy': (r) => token(r, ALNUM, 24),
  'render-api-key': (r) => 'rnd_' + token(r, ALNUM, 32),
  'cloudflare-api-token': (r) => pick(r, ['cfut_', 'cfat_']) + token(r, ALNUM, 40) + token(r, ALNUM, 6),
  'cloudflare-api-token-legacy': (r) => token(r, URLSAFE, 40),
  'cloudflare-global-api-key': (r) => 'cfk_' + token(r, ALNUM, 40) + token(r, ALNUM, 6),
  'cloudflare-global-api-key-legacy': (r) => token(r, HEX, 37),
  'cloudflare-origin-ca-key': (r) => `v1.0-${token(r, HEX, 24)}-${token(r, HEX, 146)}`,
  'fastly-api-token': (r) => token(r, URLSAFE, 32),
  'supabase-access-token': (r) => 'sbp_' + (r() < 0.2 ? 'oauth_' : '') + token(r, HEX, 40),
  'supabase-secret-key': (r) => `sb_secret_${token(r, URLSAFE, 22)}_${token(r, ALNUM, 8)}`,
  'planetscale-service-token': (r) => 'pscale_tkn_' + token(r, URLSAFE, 43),
  'planetscale-password': (r) => 'pscale_pw_' + token(r, URLSAFE, 43),
  'planetscale-oauth-token': (r) => 'pscale_oauth_' + token(r, URLSAFE, 43),
  'mongodb-atlas-service-account-secret': (r) => 'mdb_sa_sk_' + token(r, URLSAFE, 40),
  'mongodb-atlas-api-key': (r) => uuid(r),
  'databricks-token': (r) => 'dapi' + token(r, HEX, 32) + (r() < 0.2 ? `-${int(r, 2, 3)}` : ''),
  'snowflake-password': (r) => password(r),
  'hetzner-cloud-token': (r) => token(r, ALNUM, 64),
  'railway-token': (r) => uuid(r),
  'upstash-token': (r) => 'A' + token(r, ALNUM, int(r, 70, 90)) + pick(r, ['', '=']),
  'neon-api-key': (r) => 'napi_' + token(r, LOWER + DIGITS, 64),
  'oci-auth-token': (r) => token(r, ALNUM + '()#:;.-_[]', 20),
  },
  contexts: {
  'aws-access-key-id': [(v) => `here you go: ${v}`, (v) => `aws_access_key_id = ${v}`, (v) => `"AccessKeyId": "${v}",`, (v) => `export AWS_ACCESS_KEY_ID=${v}`, (v) => `\`${v}\``],
  'aws-secret-access-key': [
    (v) => `aws_secret_access_key = ${v}`,
    (v) => `AWS secret key: ${v}`,
    (v) => `export AWS_SECRET_ACCESS_KEY="${v}"`,
    (v) => `{"AccessKeyId": "${EXAMPLE_KEY_ID}", "SecretAccessKey": "${v}", "Expiration": "2026-01-01T00:00:00Z"}`,
    (v) => `AWS Secret Access Key [****************Q7ZK]: ${v}`,
    (v) => `aws configure set aws_secret_access_key ${v}`,
    (v) => `secret_access_key: ${v}`,
  ],
  'aws-secret-access-key-after-id': [
    (v) => `${EXAMPLE_KEY_ID}:${v}`,
    (v) => `Access key ID,Secret access key\n${EXAMPLE_KEY_ID},${v}`,
    (v) => `key id ${EXAMPLE_KEY_ID}\nand the other half ${v}`,
    (v) => `AKIAXXXXXXXXXXXXXXXX | ${v} | us-east-1`,
  ],
  'aws-secret-access-key-before-id': [(v) => `${v} ${EXAMPLE_KEY_ID}`, (v) => `${v}\n${EXAMPLE_KEY_ID}`, (v) => `creds ${v}, ${EXAMPLE_KEY_ID}`],
  'aws-session-token': [
    (v) => `here you go: ${v}`,
    (v) => `\`${v}\``,
    (v) => `aws_session_token = ${v}`,
    (v) => `"SessionToken": "${v}",`,
    (v) => `export AWS_SESSION_TOKEN="${v}"`,
    (v) => `https://acme-exports.s3.amazonaws.com/report.csv?X-Amz-Expires=3600&X-Amz-Security-Token=${urlEncode(v)}&X-Amz-SignedHeaders=host`,
  ],
  'aws-session-token-keyed': [
    (v) => `aws_session_token = ${v}`,
    (v) => `export AWS_SESSION_TOKEN="${v}"`,
    (v) => `"SessionToken": "${v}"`,
    (v) => `aws configure set aws_session_token ${v}`,
  ],
  'aws-bedrock-api-key': [(v) => `export AWS_BEARER_TOKEN_BEDROCK=${v}`, (v) => `Authorization: Bearer ${v}`, (v) => `here you go: ${v}`, (v) => `client = OpenAI(api_key="${v}")`],
  'aws-bedrock-api-key-short-term': [(v) => `export AWS_BEARER_TOKEN_BEDROCK=${v}`, (v) => `here you go: ${v}`, (v) => `\`${v}\``],
  'amazon-mws-auth-token': [(v) => `MWSAuthToken=${v}`, (v) => `"mws_auth_token": "${v}"`, (v) => `seller A2EUQ1WTGCTBG2 authorized us, token ${v}`],
  'google-oauth-client-secret-legacy': [
    (v, r) =>
      `{"installed":{"client_id":"${digits(r, 12)}-${token(r, LOWER + DIGITS, 32)}.apps.googleusercontent.com","project_id":"acme-prod","auth_uri":"https://accounts.google.com/o/oauth2/auth","client_secret":"${v}","redirect_uris":["http://localhost"]}}`,
    (v, r) => `GOOGLE_CLIENT_ID=${digits(r, 12)}-${token(r, LOWER + DIGITS, 32)}.apps.googleusercontent.com\nGOOGLE_CLIENT_SECRET=${v}`,
  ],
  'gcp-service-account-key': [
    (v) => `{"type": "service_account", "project_id": "acme-prod", "private_key_id": "${v}", "client_email": "ci@acme-prod.iam.gserviceaccount.com"}`,
    (v) => `type: service_account\nproject_id: acme-prod\nprivate_key_id: ${v}`,
  ],
  'google-oauth-refresh-token': [(v) => `here you go: ${v}`, (v) => `"refresh_token": "${v}",`, (v) => `GOOGLE_REFRESH_TOKEN=${v}`, (v) => `\`${v}\``],
  'google-oauth-access-token': [(v) => `Authorization: Bearer ${v}`, (v) => `{"access_token": "${v}", "expires_in": 3599}`, (v) => `here you go: ${v}`],
  'firebase-fcm-server-key': [(v) => `Authorization: key=${v}`, (v) => `FCM_SERVER_KEY=${v}`, (v) => `here you go: ${v}`],
  'azure-storage-account-key': [
    (v) => `DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${v};EndpointSuffix=core.windows.net`,
    (v) => `AZURE_STORAGE_KEY=${v}`,
    (v, r) => `az storage blob list --account-name ${name(r)} --account-key ${v} -c backups`,
    (v) => `"storageAccountKey": "${v}"`,
    (v) => `[{"keyName": "key1", "permissions": "FULL", "value": "${v}"}]`,
  ],
  'azure-cosmosdb-key': [
    (v, r) => `AccountEndpoint=https://${name(r)}.documents.azure.com:443/;AccountKey=${v};`,
    (v) => `COSMOS_KEY=${v}`,
    (v) => `"primaryMasterKey": "${v}"`,
    (v) => `cosmos db primary key: ${v}`,
  ],
  'azure-ad-client-secret': [(v) => `here you go: ${v}`, (v) => `AZURE_CLIENT_SECRET=${v}`, (v) => `\`${v}\``, (v) => `client_secret: ${v}`],
  'azure-ad-client-secret-keyed': [
    (v) => `AZURE_CLIENT_SECRET=${v}`,
    (v) => `export ARM_CLIENT_SECRET="${v}"`,
    (v) => `azure client secret: ${v}`,
    (v) => `"azureClientSecret": "${v}"`,
  ],
  'azure-sas-token': [
    (v, r) => `https://${name(r)}.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2026-12-31T23:59:59Z&st=2025-01-01T00:00:00Z&spr=https&sig=${v}`,
    (v, r) => `https://${name(r)}.blob.core.windows.net/exports/q3.csv?sp=r&st=2025-06-01T08:00:00Z&se=2025-06-30T16:00:00Z&spr=https&sv=2024-11-04&sr=b&sig=${v}`,
    (v, r) => `BlobEndpoint=https://${name(r)}.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupx&se=2026-03-01T00:00:00Z&sig=${v}`,
    (v, r) => `Authorization: SharedAccessSignature sr=https%3A%2F%2F${name(r)}.servicebus.windows.net%2Forders&sig=${urlEncode(v)}&se=1767225600&skn=RootManageSharedAccessKey`,
  ],
  'azure-shared-access-key': [
    (v, r) => `Endpoint=sb://${name(r)}.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${v}`,
    (v, r) => `Endpoint=sb://${name(r)}.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${v};EntityPath=orders`,
    (v, r) => `HostName=${name(r)}.azure-devices.net;DeviceId=sensor-01;SharedAccessKey=${v}`,
    (v) => `aeg-sas-key: ${v}`,
  ],
  'azure-sql-connection-password': [
    (v, r) => `host=${name(r)}.postgres.database.azure.com port=5432 dbname=app user=pgadmin password=${v} sslmode=require`,
    (v, r) => `psycopg2.connect(host="${name(r)}.postgres.database.azure.com", dbname="app", user="pgadmin", password="${v}", sslmode="require")`,
    (v, r) => `PGHOST=${name(r)}.postgres.database.azure.com PGUSER=pgadmin PGPASSWORD=${v} psql`,
    (v, r) => `db:\n  host: ${name(r)}.mysql.database.azure.com\n  user: appadmin\n  password: ${v}`,
    (v, r) => `pyodbc server ${name(r)}.database.windows.net, user appadmin, password: ${v}`,
  ],
  'azure-devops-pat': [
    (v) => `AZURE_DEVOPS_EXT_PAT=${v}`,
    (v) => `export AZURE_DEVOPS_PAT="${v}"`,
    (v) => `azure devops token: ${v}`,
    (v) => `ADO_PAT=${v}`,
    (v) => `cloning https://dev.azure.com/acme/platform/_git/api with the PAT ${v}`,
  ],
  'azure-annotated-key': [(v) => `here you go: ${v}`, (v) => `AZURE_OPENAI_API_KEY=${v}`, (v) => `api-key: ${v}`, (v) => `AZURE_DEVOPS_EXT_PAT=${v}`, (v) => `\`${v}\``],
  'azure-openai-key': [
    (v) => `AZURE_OPENAI_API_KEY=${v}`,
    (v) => `AZURE_OPENAI_KEY="${v}"`,
    (v, r) => `curl https://${name(r)}.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-02-01 -H "api-key: ${v}"`,
    (v) => `Ocp-Apim-Subscription-Key: ${v}`,
    (v, r) => `{"azure_openai": {"endpoint": "https://${name(r)}.openai.azure.com/", "api_key": "${v}"}}`,
  ],
  'azure-search-key': [
    (v) => `AZURE_SEARCH_KEY=${v}`,
    (v) => `AZURE_AI_SEARCH_API_KEY="${v}"`,
    (v, r) => `curl https://${name(r)}.search.windows.net/indexes?api-version=2023-11-01 -H "api-key: ${v}"`,
    (v, r) => `{"search_endpoint": "https://${name(r)}.search.windows.net", "admin_key": "${v}"}`,
  ],
  'azure-functions-key': [
    (v, r) => `curl "https://${name(r)}.azurewebsites.net/api/orders?code=${urlEncode(v)}"`,
    (v, r) => `https://${name(r)}.azurewebsites.net/api/HttpTrigger1?name=ops&code=${v}`,
    (v) => `x-functions-key: ${v}`,
    (v) => `AZURE_FUNCTIONS_KEY=${v}`,
  ],
  'azure-container-registry-password': [
    (v, r) => `docker login ${name(r)}.azurecr.io -u ${name(r)} -p ${v}`,
    (v, r) => `docker login ${name(r)}.azurecr.io --username acmeregistry --password ${v}`,
    (v, r) => `{"registry": "${name(r)}.azurecr.io", "username": "acmeregistry", "password": "${v}"}`,
  ],
  'azure-redis-key': [
    (v, r) => `${name(r)}.redis.cache.windows.net:6380,password=${v},ssl=True,abortConnect=False`,
    (v, r) => `REDIS_CONNECTION=${name(r)}.redis.cache.windows.net:6380,password=${v},ssl=True`,
  ],
  'alibaba-access-key-id': [(v) => `here you go: ${v}`, (v) => `ALIBABA_CLOUD_ACCESS_KEY_ID=${v}`, (v) => `"AccessKeyId": "${v}"`, (v) => `\`${v}\``],
  'alibaba-access-key-secret': [
    (v) => `ALIBABA_CLOUD_ACCESS_KEY_SECRET=${v}`,
    (v) => `access_key_secret: ${v}`,
    (v) => `"AccessKeySecret": "${v}"`,
    (v) => `aliyun configure set --access-key-id LTAIxxxxxxxxxxxxxxxx --access-key-secret ${v}`,
  ],
  'tencent-secret-id': [(v) => `here you go: ${v}`, (v) => `TENCENTCLOUD_SECRET_ID=${v}`, (v) => `SecretId: ${v}`],
  'tencent-secret-key': [
    (v) => `TENCENTCLOUD_SECRET_KEY=${v}`,
    (v) => `tccli configure set secretKey ${v}`,
    (v) => `{"qcloud": {"secret_id": "AKIDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "secret_key": "${v}"}}`,
  ],
  'ibm-cloud-api-key': [
    (v) => `IBMCLOUD_API_KEY=${v}`,
    (v) => `ibmcloud login --apikey ${v} -r us-south`,
    (v) => `IC_API_KEY="${v}"`,
    (v) => `{"ibm_cloud_api_key": "${v}"}`,
  ],
  'digitalocean-spaces-secret-key': [(v) => `SPACES_SECRET_KEY=${v}`, (v) => `DO_SPACES_SECRET="${v}"`, (v) => `digitalocean spaces secret: ${v}`],
  'linode-token': [
    (v) => `LINODE_TOKEN=${v}`,
    (v) => `linode-cli config: token = ${v}`,
    (v) => `provider "linode" {\n  token = "${v}"\n}`,
    (v) => `export LINODE_CLI_TOKEN="${v}"`,
  ],
  'vultr-api-key': [(v) => `VULTR_API_KEY=${v}`, (v) => `vultr-cli --api-key ${v} instance list`, (v) => `{"vultr_api_key": "${v}"}`],
  'scaleway-access-key': [(v) => `here you go: ${v}`, (v) => `SCW_ACCESS_KEY=${v}`, (v) => `access_key: ${v}`],
  'scaleway-secret-key': [
    (v) => `SCW_SECRET_KEY=${v}`,
    (v) => `scaleway secret key: ${v}`,
    (v) => `access_key: SCWXXXXXXXXXXXXXXXXX\nsecret_key: ${v}`,
    (v) => `createClient({ accessKey: 'SCWXXXXXXXXXXXXXXXXX', secretKey: '${v}' })`,
  ],
  'heroku-api-key': [(v) => `heroku api key is ${v}`, (v) => `HEROKU_API_KEY=${v}`, (v) => `machine api.heroku.com\n  login ops@acme.io\n  password ${v}`],
  'flyio-token': [(v) => `here you go: ${v}`, (v) => `FLY_API_TOKEN="FlyV1 ${v}"`, (v) => `fly deploy --access-token "FlyV1 ${v}"`, (v) => `\`${v}\``],
  'netlify-token': [(v) => `here you go: ${v}`, (v) => `NETLIFY_AUTH_TOKEN=${v}`, (v) => `\`${v}\``],
  'netlify-token-legacy': [(v) => `NETLIFY_AUTH_TOKEN=${v}`, (v) => `export NETLIFY_AUTH_TOKEN="${v}"`, (v) => `netlify deploy --prod --auth ${v}`, (v) => `{"netlify_token": "${v}"}`],
  'vercel-token': [(v) => `here you go: ${v}`, (v) => `VERCEL_TOKEN=${v}`, (v) => `vercel deploy --token ${v}`],
  'vercel-token-legacy': [(v) => `VERCEL_TOKEN=${v}`, (v) => `vercel deploy --prod --token ${v}`, (v) => `"vercelToken": "${v}"`, (v) => `vercel token: ${v}`],
  'render-api-key': [(v) => `here you go: ${v}`, (v) => `RENDER_API_KEY=${v}`, (v) => `Authorization: Bearer ${v}`],
  'cloudflare-api-token': [(v) => `here you go: ${v}`, (v) => `CLOUDFLARE_API_TOKEN=${v}`, (v) => `Authorization: Bearer ${v}`],
  'cloudflare-api-token-legacy': [
    (v) => `CLOUDFLARE_API_TOKEN=${v}`,
    (v) => `export CF_API_TOKEN="${v}"`,
    (v) => `curl https://api.cloudflare.com/client/v4/user/tokens/verify -H "Authorization: Bearer ${v}"`,
    (v) => `cloudflare token is ${v}`,
  ],
  'cloudflare-global-api-key': [(v) => `here you go: ${v}`, (v) => `CLOUDFLARE_API_KEY=${v}`, (v) => `-H "X-Auth-Key: ${v}"`],
  'cloudflare-global-api-key-legacy': [
    (v) => `CLOUDFLARE_API_KEY=${v}`,
    (v) => `curl https://api.cloudflare.com/client/v4/zones -H "X-Auth-Email: ops@acme.io" -H "X-Auth-Key: ${v}"`,
    (v) => `cloudflare global api key: ${v}`,
    (v) => `CF_API_KEY="${v}"`,
  ],
  'cloudflare-origin-ca-key': [(v) => `here you go: ${v}`, (v) => `X-Auth-User-Service-Key: ${v}`, (v) => `origin_ca_key = "${v}"`],
  'fastly-api-token': [
    (v) => `FASTLY_API_TOKEN=${v}`,
    (v) => `curl -H "Fastly-Key: ${v}" https://api.fastly.com/service`,
    (v) => `fastly api token: ${v}`,
    (v) => `"fastly_key": "${v}"`,
  ],
  'supabase-access-token': [(v) => `here you go: ${v}`, (v) => `SUPABASE_ACCESS_TOKEN=${v}`, (v) => `\`${v}\``],
  'supabase-secret-key': [(v) => `here you go: ${v}`, (v) => `SUPABASE_SECRET_KEY=${v}`, (v) => `createClient(url, '${v}')`],
  'planetscale-service-token': [(v) => `here you go: ${v}`, (v) => `PLANETSCALE_SERVICE_TOKEN=${v}`, (v) => `\`${v}\``],
  'planetscale-password': [(v) => `here you go: ${v}`, (v) => `DATABASE_PASSWORD=${v}`, (v) => `password: ${v}`],
  'planetscale-oauth-token': [(v) => `here you go: ${v}`, (v) => `Authorization: Bearer ${v}`, (v) => `\`${v}\``],
  'mongodb-atlas-service-account-secret': [(v) => `here you go: ${v}`, (v) => `MONGODB_ATLAS_CLIENT_SECRET=${v}`, (v) => `\`${v}\``],
  'mongodb-atlas-api-key': [
    (v) => `MONGODB_ATLAS_PRIVATE_API_KEY=${v}`,
    (v) => `export MCLI_PRIVATE_API_KEY="${v}"`,
    (v) => `provider "mongodbatlas" {\n  public_key  = "qhxwmrbt"\n  private_key = "${v}"\n}`,
    (v) => `atlas private key: ${v}`,
  ],
  'snowflake-password': [
    (v) => `SNOWFLAKE_PASSWORD=${v}`,
    (v) => `snowflake.connector.connect(user="etl", password="${v}", account="acme-xy12345")`,
    (v) => `[connections.snowflake_prod]\naccount = "acme-xy12345"\nuser = "etl"\npassword = "${v}"`,
    (v) => `snowsql -a acme-xy12345 -u etl\n[connections]\npassword = ${v}`,
  ],
  'hetzner-cloud-token': [
    (v) => `HCLOUD_TOKEN=${v}`,
    (v) => `export HCLOUD_TOKEN="${v}"`,
    (v) => `hetzner cloud api token: ${v}`,
    (v) => `provider "hcloud" {\n  token = "${v}"\n}`,
  ],
  'railway-token': [(v) => `RAILWAY_TOKEN=${v}`, (v) => `export RAILWAY_API_TOKEN="${v}"`, (v) => `railway token: ${v}`],
  'upstash-token': [(v) => `UPSTASH_REDIS_REST_TOKEN=${v}`, (v) => `QSTASH_TOKEN="${v}"`, (v) => `upstash redis token: ${v}`],
  'neon-api-key': [(v) => `here you go: ${v}`, (v) => `NEON_API_KEY=${v}`, (v) => `\`${v}\``],
  'oci-auth-token': [
    (v) => `docker login iad.ocir.io -u 'acmetenancy/oracleidentitycloudservice/ops@acme.io' -p '${v}'`,
    (v) => `docker login fra.ocir.io --username acme/ops --password "${v}"`,
  ],
  },
  nearMisses: {
  'aws-access-key-id': ['AKIAIOSFODNN7EXAMPLE', 'AKIAXXXXXXXXXXXXXXXX', 'use an AKIA… key id here', 'aws_access_key_id = <AKIA...>'],
  'aws-secret-access-key': [
    'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}',
    'aws secret key: ****************************************',
    'aws deploy ran for commit 3f9c2a7b1d4e5f60718293a4b5c6d7e8f9a0b1c2',
  ],
  'aws-secret-access-key-after-id': ['AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AKIAIOSFODNN7EXAMPLE / <your secret access key>'],
  'aws-session-token': ['aws_session_token = <session token>', 'AWS_SESSION_TOKEN=${AWS_SESSION_TOKEN}', 'session tokens start with IQoJb3JpZ2luX2Vj…'],
  'aws-bedrock-api-key': ['export AWS_BEARER_TOKEN_BEDROCK=${api-key}', 'Bedrock long-term keys start with ABSK'],
  'aws-bedrock-api-key-short-term': ['AUTH_PREFIX = "bedrock-api-key-"', 'the token looks like bedrock-api-key-<base64 presigned url>'],
  'amazon-mws-auth-token': ['MWSAuthToken=amzn.mws.xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx', 'MWS auth tokens look like amzn.mws.<uuid>'],
  'google-oauth-client-secret-legacy': ['{"client_id":"123.apps.googleusercontent.com","client_secret":"<client-secret>"}', 'GOOGLE_CLIENT_SECRET=${GOOGLE_CLIENT_SECRET} for 123.apps.googleusercontent.com'],
  'gcp-service-account-key': ['"private_key_id": "<key id>"', '"private_key_id": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'],
  'google-oauth-refresh-token': ['"refresh_token": "1//0<refresh token>"', 'refresh tokens begin with 1//0'],
  'google-oauth-access-token': ['Authorization: Bearer ya29.<access token>', 'access tokens start with ya29.'],
  'firebase-fcm-server-key': ['Authorization: key=<server key>', 'legacy server keys look like AAAA…:APA91b…'],
  'azure-storage-account-key': ['DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=<key>;EndpointSuffix=core.windows.net', 'AZURE_STORAGE_KEY=${AZURE_STORAGE_KEY}', 'UseDevelopmentStorage=true'],
  'azure-cosmosdb-key': ['AccountEndpoint=https://acme.documents.azure.com:443/;AccountKey=<primary-key>;', 'COSMOS_KEY=your-key-here'],
  'azure-ad-client-secret': ['AZURE_CLIENT_SECRET=<client-secret>', 'secrets now look like abc8Q~…'],
  'azure-ad-client-secret-keyed': ['AZURE_CLIENT_SECRET=${{ secrets.AZURE_CLIENT_SECRET }}', 'ARM_CLIENT_SECRET=<service-principal-password>'],
  'azure-sas-token': ['https://acme.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-01-01&sig=<signature>', 'append ?sv=…&sig=… to the blob url'],
  'azure-shared-access-key': ['Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=<key>', 'SharedAccessKey=${SB_KEY}'],
  'azure-sql-connection-password': [
    'host=acme.postgres.database.azure.com port=5432 dbname=app user=pgadmin password={your_password} sslmode=require',
    'Server=tcp:acme.database.windows.net,1433;Authentication=Active Directory Default;Database=db;',
    'PGHOST=acme.postgres.database.azure.com PGPASSWORD=${PGPASSWORD} psql',
  ],
  'azure-devops-pat': ['AZURE_DEVOPS_EXT_PAT=<personal-access-token>', 'azure devops token: ****************************************************'],
  'azure-openai-key': ['AZURE_OPENAI_API_KEY=<your-key>', 'AZURE_OPENAI_API_KEY=${AZURE_OPENAI_API_KEY}'],
  'azure-search-key': ['AZURE_SEARCH_KEY=<admin-key>', 'curl https://acme.search.windows.net/indexes -H "api-key: $AZURE_SEARCH_KEY"'],
  'azure-functions-key': ['https://acme.azurewebsites.net/api/orders?code=<function-key>', 'x-functions-key: {{FUNCTION_KEY}}'],
  'azure-container-registry-password': ['docker login acme.azurecr.io -u acme -p <password>', 'az acr login --name acme; docker login acme.azurecr.io --password-stdin < pw.txt'],
  'azure-redis-key': ['acme.redis.cache.windows.net:6380,password=<access-key>,ssl=True'],
  'alibaba-access-key-id': ['LTAIxxxxxxxxxxxxxxxx', 'ids start with LTAI'],
  'alibaba-access-key-secret': ['ALIBABA_CLOUD_ACCESS_KEY_SECRET=<access-key-secret>', 'access_key_secret: ${ALIYUN_SECRET}'],
  'tencent-secret-id': ['SecretId: AKIDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'SecretIds start with AKID'],
  'tencent-secret-key': ['TENCENTCLOUD_SECRET_KEY=<secret-key>', 'tccli configure set secretKey ********************************'],
  'ibm-cloud-api-key': ['IBMCLOUD_API_KEY=<ibm-cloud-api-key>', 'ibmcloud login --apikey @apikey.json'],
  'digitalocean-token': ['dop_v1_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'tokens start with dop_v1_'],
  'digitalocean-spaces-secret-key': ['SPACES_SECRET_KEY=<spaces-secret>'],
  'linode-token': ['LINODE_TOKEN=<personal-access-token>', 'linode image sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  'vultr-api-key': ['VULTR_API_KEY=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX', 'VULTR_API_KEY=${VULTR_API_KEY}'],
  'scaleway-access-key': ['SCWXXXXXXXXXXXXXXXXX', 'access keys start with SCW'],
  'scaleway-secret-key': ["secretKey: 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'", 'scaleway project id 0f8fad5b-d9cb-469f-a165-70867728950e'],
  'heroku-api-key': ['HEROKU_API_KEY=${HEROKU_API_KEY}', 'heroku release 0f8fad5b-d9cb-469f-a165-70867728950e is live'],
  'flyio-token': ['FLY_API_TOKEN="FlyV1 fm2_<token>"', 'fly tokens start with fm2_'],
  'netlify-token': ['NETLIFY_AUTH_TOKEN=nfp_<token>', 'tokens start with nfp_'],
  'vercel-token': ['VERCEL_TOKEN=vcp_<token>', 'prefixes: vcp_, vci_, vca_, vcr_, vck_'],
  'vercel-token-legacy': ['VERCEL_TOKEN=${VERCEL_TOKEN}', 'vercel token: <your-token>'],
  'render-api-key': ['Authorization: Bearer rnd_<api key>', 'keys start with rnd_'],
  'cloudflare-api-token': ['CLOUDFLARE_API_TOKEN=cfut_<token>', 'new tokens look like cfut_…'],
  'cloudflare-api-token-legacy': ['CLOUDFLARE_API_TOKEN=${CLOUDFLARE_API_TOKEN}', 'cloudflare token is <your-token>'],
  'cloudflare-global-api-key-legacy': ['X-Auth-Key: <global api key>', 'cloudflare ray id 8a1b2c3d4e5f6a7b'],
  'cloudflare-origin-ca-key': ['X-Auth-User-Service-Key: v1.0-<origin-ca-key>', 'upgraded to v1.0-rc1 yesterday'],
  'fastly-api-token': ['FASTLY_API_TOKEN=<token>', 'Fastly-Key: ${FASTLY_API_TOKEN}'],
  'supabase-access-token': ['SUPABASE_ACCESS_TOKEN=sbp_<token>', 'tokens start with sbp_'],
  'supabase-secret-key': ['SUPABASE_PUBLISHABLE_KEY=sb_publishable_k2Wq8ZxN4pLm0RtY7vBd3A_9c1Vh6sJe', 'SUPABASE_SECRET_KEY=sb_secret_...'],
  'planetscale-password': ['DATABASE_PASSWORD=pscale_pw_<password>', 'passwords start with pscale_pw_'],
  'mongodb-atlas-api-key': ['MONGODB_ATLAS_PRIVATE_API_KEY=<private-key>', 'atlas project id 0f8fad5b-d9cb-469f-a165-70867728950e'],
  'databricks-token': ['dapi<your token>', 'DATABRICKS_TOKEN=dapixxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'snowflake-password': ['SNOWFLAKE_PASSWORD=${SNOWFLAKE_PASSWORD}', 'snowflake password: <password>', 'snowflake password policy requires 14 characters'],
  'hetzner-cloud-token': ['HCLOUD_TOKEN=<hetzner-api-token>', 'HCLOUD_TOKEN=${HCLOUD_TOKEN}'],
  'railway-token': ['RAILWAY_TOKEN=<project-token>', 'railway deployment 0f8fad5b-d9cb-469f-a165-70867728950e finished'],
  'upstash-token': ['UPSTASH_REDIS_REST_TOKEN=<token>', 'UPSTASH_REDIS_REST_URL=https://eu1-acme-12345.upstash.io'],
  'neon-api-key': ['NEON_API_KEY=napi_<key>', 'keys start with napi_'],
  'oci-auth-token': ["docker login iad.ocir.io -u 'ns/ops' -p '<auth token>'", 'docker login iad.ocir.io --password-stdin < token.txt'],
  },
};
