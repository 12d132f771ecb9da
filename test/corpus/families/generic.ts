/**
 * Corpus generators for the generic detectors (rules/secrets-generic.yaml): fresh values of each
 * format, how chat leaks them, near misses. Values are the secret itself (a password, a token, a
 * whole key block); contexts put it where people paste it: headers, command lines, URLs,
 * connection strings, config files, assignments. No value is shaped like a placeholder (a fake
 * word, a mask, a template), so every one is a leak the detectors must find.
 */
import { ALNUM, B64, b64url, chars, DIGITS, HEX, int, LOWER, pick, token, URLSAFE, type Family, type Rng } from '../random';

/** Password characters that survive every context below (URL user information, shell, JSON, YAML, XML). */
const PW = ALNUM + '!%^*_-~';

/** A password as people make them: a word, digits and marks, or random characters (starting with a letter or digit, no mask-like runs). */
const password = (r: Rng): string => {
  if (r() < 0.35) return `${pick(r, ['Falcon', 'Harbor', 'Maple', 'Quartz', 'Nimbus', 'Copper', 'Juniper', 'Orbit'])}${chars(r, DIGITS, int(r, 2, 4))}${pick(r, ['!', '%', '*', '^', '_'])}${token(r, ALNUM, int(r, 3, 6))}`;
  for (;;) {
    const v = chars(r, ALNUM, 1) + token(r, PW, int(r, 9, 23));
    if (!/\*{3}|x{4}/i.test(v)) return v;
  }
};

/** An opaque token: no provider's prefix, letters and digits (and URL-safe marks). */
const opaque = (r: Rng, n: number) => token(r, pick(r, [ALNUM, URLSAFE, LOWER + DIGITS]), n);

const user = (r: Rng) => `${pick(r, ['svc', 'ci', 'app', 'etl', 'deploy', 'ops', 'build', 'report'])}${pick(r, ['_', '-', ''])}${chars(r, LOWER, int(r, 3, 6))}`;
const host = (r: Rng, kind: string) => `${kind}-${chars(r, LOWER, 3)}${int(r, 1, 9)}.${pick(r, ['internal.acme.io', 'acme.io', 'prod.acme.net', 'eu-west-1.acme.cloud'])}`;
const ip = (r: Rng) => `10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}`;

/** base64 lines of a PEM body. */
const pemBody = (r: Rng, start: string, lines: number, width = 64) => {
  const all = start + token(r, B64, width * lines - start.length - 2) + pick(r, ['==', 'AB', 'Q=']);
  return all.match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n');
};

/** OpenSSH's openssh-key-v1 blob as base64: magic, cipher and KDF names, key count, then key material. */
const opensshBody = (r: Rng) => {
  const head = pick(r, [
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQyNTUxOQAAACA',
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABlwAAAAdzc2gtcnNhAAAAAwEAAQAAAYEA',
    'b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABA',
  ]);
  return pemBody(r, head, int(r, 5, 12), 70);
};

const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
const base64 = (s: string) => Buffer.from(s).toString('base64');

export const family: Family = {
  values: {
  'private-key': (r) => {
    const label = pick(r, ['RSA PRIVATE KEY', 'EC PRIVATE KEY', 'DSA PRIVATE KEY', 'PRIVATE KEY', 'PRIVATE KEY']);
    const start = label === 'EC PRIVATE KEY' ? 'MHcCAQEEI' : label === 'PRIVATE KEY' ? pick(r, ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 'MC4CAQAwBQYDK2VwBCIEI']) : 'MIIEpAIBAAKCAQEA';
    const body = pemBody(r, start, label === 'EC PRIVATE KEY' || start.startsWith('MC4') ? pick(r, [1, 3]) : int(r, 6, 25));
    const text = pem(label, body);
    // A key inside a JSON string or a one-line .env value: line breaks as \n.
    return r() < 0.2 ? text.replaceAll('\n', '\\n') : text;
  },
  'encrypted-private-key': (r) =>
    r() < 0.6
      ? pem('ENCRYPTED PRIVATE KEY', pemBody(r, 'MIIFHzBJBgkqhkiG9w0BBQ0wPDAbBgkqhkiG9w0BBQwwDgQI', int(r, 5, 25)))
      : pem(
          pick(r, ['RSA PRIVATE KEY', 'EC PRIVATE KEY']),
          `Proc-Type: 4,ENCRYPTED\nDEK-Info: ${pick(r, ['AES-128-CBC', 'AES-256-CBC', 'DES-EDE3-CBC'])},${chars(r, '0123456789ABCDEF', 32)}\n\n${pemBody(r, '', int(r, 3, 25))}`,
        ),
  'openssh-private-key': (r) => pem('OPENSSH PRIVATE KEY', opensshBody(r)),
  'pgp-private-key': (r) => {
    const headers = pick(r, ['', 'Version: GnuPG v2\n', 'Comment: release signing key\n', 'Version: OpenPGP.js v5.11.0\nComment: https://openpgpjs.org\n']);
    return `-----BEGIN PGP PRIVATE KEY BLOCK-----\n${headers}\n${pemBody(r, pick(r, ['lFgE', 'lQOYB', 'lQVYB']), int(r, 4, 30))}\n=${token(r, B64, 4)}\n-----END PGP PRIVATE KEY BLOCK-----`;
  },
  'putty-private-key': (r) => {
    const [alg, pub] = pick(r, [
      ['ssh-ed25519', 'AAAAC3NzaC1lZDI1NTE5AAAAI'],
      ['ssh-rsa', 'AAAAB3NzaC1yc2EAAAADAQABAAABAQ'],
      ['ecdsa-sha2-nistp256', 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB'],
    ] as const);
    const version = pick(r, [2, 3]);
    const lines = (start: string, n: number) => pemBody(r, start, n).split('\n');
    const pubLines = lines(pub, alg === 'ssh-rsa' ? 6 : 2);
    const privLines = lines('AAAA', alg === 'ssh-rsa' ? 14 : 1);
    const encrypted = version === 3 && r() < 0.3;
    const kdf = encrypted ? `Key-Derivation: Argon2id\nArgon2-Memory: 8192\nArgon2-Passes: ${int(r, 8, 30)}\nArgon2-Parallelism: 1\nArgon2-Salt: ${chars(r, HEX, 32)}\n` : '';
    return [
      `PuTTY-User-Key-File-${version}: ${alg}`,
      `Encryption: ${encrypted ? 'aes256-cbc' : 'none'}`,
      `Comment: ${alg.split('-')[0]}-key-2024${digits2(r)}${digits2(r)}`,
      `Public-Lines: ${pubLines.length}`,
      ...pubLines,
      `${kdf}Private-Lines: ${privLines.length}`,
      ...privLines,
      `Private-MAC: ${chars(r, HEX, version === 2 ? 40 : 64)}`,
    ].join(pick(r, ['\n', '\r\n']));
  },
  jwt: (r) =>
    `${b64url(JSON.stringify({ alg: pick(r, ['HS256', 'RS256', 'ES256']), typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: token(r, ALNUM, 10), iat: 1700000000 + int(r, 0, 1e7) }))}.${token(r, URLSAFE, 43)}`,
  'http-basic-auth': (r) => base64(`${user(r)}:${password(r)}`),
  'http-bearer-token': (r) => (r() < 0.8 ? opaque(r, int(r, 24, 64)) : `${opaque(r, 8)}.${opaque(r, 24)}`),
  'curl-user-password': password,
  'cli-password-flag': password,
  'connection-string-password': (r) => token(r, ALNUM + '!$%^*', 16),
  'mysql-uri-password': password,
  'mongodb-uri-password': password,
  'redis-uri-password': (r) => (r() < 0.5 ? password(r) : opaque(r, 32)),
  'amqp-uri-password': password,
  'ftp-uri-password': password,
  'smtp-uri-password': password,
  'git-credential-url': (r) => (r() < 0.5 ? password(r) : opaque(r, int(r, 20, 40))),
  'jdbc-url-password': password,
  'odbc-connection-string-password': password,
  'pgpass-password': password,
  'kubeconfig-user-token': (r) => (r() < 0.3 ? `${chars(r, LOWER + DIGITS, 6)}.${token(r, LOWER + DIGITS, 16)}` : opaque(r, int(r, 32, 64))),
  'kubeconfig-user-password': password,
  'docker-config-auth': (r) => base64(`${user(r)}:${r() < 0.5 ? password(r) : opaque(r, 36)}`),
  'npmrc-auth-token': (r) => (r() < 0.6 ? opaque(r, int(r, 32, 64)) : base64(`${user(r)}:${password(r)}`)),
  'netrc-password': password,
  'password-assignment': (r) => `${pick(r, ['Winter', 'Summer', 'Blue', 'Tiger', 'Rocket'])}${chars(r, DIGITS, 4)}${pick(r, ['!', '#', '$', '%', '@'])}${token(r, ALNUM, 4)}`,
  'generic-api-secret': (r) =>
    pick(r, [
      () => token(r, ALNUM + '_-', int(r, 32, 48)),
      () => token(r, HEX, pick(r, [32, 40, 64])),
      () => token(r, ALNUM, int(r, 16, 24)),
      () => token(r, B64, 40) + '=',
      () => `${token(r, LOWER + DIGITS, 8)}-${token(r, LOWER + DIGITS, 12)}-${token(r, LOWER + DIGITS, 8)}`,
    ])(),
  },
  contexts: {
  'private-key': [
    (v) => `here you go: ${v}`,
    (v) => `\`\`\`\n${v}\n\`\`\``,
    (v) => (v.includes('\\n') ? `{"type": "service_account", "private_key": "${v}\\n"}` : `key.pem:\n${v}`),
    (v) => `PRIVATE_KEY="${v}"`,
    // kubeconfig's client-key-data: the PEM in base64, found through the engine's decoding.
    (v, r) => `users:\n- name: ${user(r)}\n  user:\n    client-certificate-data: ${base64('-----BEGIN CERTIFICATE-----\nMIIC')}\n    client-key-data: ${base64(v)}\n`,
  ],
  'http-basic-auth': [
    (v) => `Authorization: Basic ${v}`,
    (v, r) => `curl -H "Authorization: Basic ${v}" https://${host(r, 'api')}/v1/orders`,
    (v, r) => `curl --header 'authorization: basic ${v}' https://${host(r, 'nexus')}/service/rest/v1/status`,
    (v) => `{"headers": {"Authorization": "Basic ${v}", "Accept": "application/json"}}`,
    (v) => `requests.get(url, headers={'Authorization': 'Basic ${v}'})`,
    (v) => `Proxy-Authorization: Basic ${v}`,
    (v) => `from the HAR: {"name": "Authorization", "value": "Basic ${v}"}`,
  ],
  'http-bearer-token': [
    (v) => `Authorization: Bearer ${v}`,
    (v, r) => `curl -s -H "Authorization: Bearer ${v}" https://${host(r, 'api')}/v2/users`,
    (v, r) => `curl --oauth2-bearer ${v} https://${host(r, 'mail')}/api/v1/messages`,
    (v) => `headers: { Authorization: 'Bearer ${v}' }`,
    (v) => `{"Authorization": "token ${v}"}`,
    (v, r) => `http GET https://${host(r, 'api')}/me 'Authorization:Bearer ${v}'`,
    (v) => `xhr.setRequestHeader("Authorization", "Bearer ${v}");`,
  ],
  'curl-user-password': [
    (v, r) => `curl -u ${user(r)}:${v} https://${host(r, 'nexus')}/repository/raw/app.tgz -O`,
    (v, r) => `curl -s --user "${user(r)}:${v}" -X POST https://${host(r, 'jenkins')}/job/api/build`,
    (v, r) => `try \`curl -fsSL -u '${user(r)}:${v}' https://${host(r, 'artifacts')}/latest\``,
    (v, r) => `curl -x http://proxy.acme.io:3128 -U ${user(r)}:${v} https://${host(r, 'api')}/health`,
    (v, r) => `curl --user=${user(r)}:${v} https://${host(r, 'grafana')}/api/dashboards`,
  ],
  'cli-password-flag': [
    (v, r) => `wget --user=${user(r)} --password=${v} https://${host(r, 'files')}/release.tgz`,
    (v, r) => `wget --http-user=${user(r)} --http-password='${v}' https://${host(r, 'files')}/nightly.zip`,
    (v, r) => `wget --ftp-user=${user(r)} --ftp-password=${v} ftp://${host(r, 'ftp')}/pub/dump.sql.gz`,
    (v, r) => `mysql -h ${host(r, 'db')} -u root -p${v} orders`,
    (v, r) => `sshpass -p '${v}' ssh ${user(r)}@${ip(r)}`,
    (v, r) => `docker login -u ${user(r)} -p ${v} registry.acme.io`,
    (v) => `keytool -importkeystore -srckeystore app.p12 -destkeystore app.jks -deststorepass ${v}`,
    (v, r) => `kubectl config set-credentials ${user(r)} --username=admin --password=${v}`,
  ],
  'connection-string-password': [
    (v, r) => `DATABASE_URL=postgres://app_${chars(r, LOWER, 4)}:${v}@db.internal.acme.io:5432/orders`,
    (v, r) => `SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://${user(r)}:${v}@${host(r, 'pg')}/warehouse"`,
    (v, r) => `https_proxy=http://${user(r)}:${v}@proxy.acme.io:3128`,
    (v, r) => `ldaps://cn=admin:${v}@${host(r, 'ldap')}:636`,
    (v, r) => `NATS_URL=nats://${user(r)}:${v}@${host(r, 'nats')}:4222`,
    (v, r) => `ELASTICSEARCH_URL=https://elastic:${v}@${host(r, 'es')}:9200`,
    (v, r) => `neo4j+s://neo4j:${v}@${chars(r, HEX, 8)}.databases.neo4j.io`,
  ],
  'mysql-uri-password': [
    (v, r) => `DB_URL=mysql://root:${v}@${host(r, 'mysql')}:3306/shop`,
    (v, r) => `engine = create_engine("mysql+pymysql://${user(r)}:${v}@${ip(r)}/reports")`,
    (v, r) => `jdbc:mysql://${user(r)}:${v}@${host(r, 'db')}:3306/billing?useSSL=true`,
    (v, r) => `DATABASE_URL="mariadb://${user(r)}:${v}@${host(r, 'maria')}/cms"`,
  ],
  'mongodb-uri-password': [
    (v, r) => `MONGO_URL=mongodb+srv://${user(r)}:${v}@prod-east.${chars(r, LOWER + DIGITS, 5)}.mongodb.net/orders?retryWrites=true&w=majority`,
    (v, r) => `mongodb://${user(r)}:${v}@mongo-1.acme.io:27017,mongo-2.acme.io:27017/app?replicaSet=rs0&authSource=admin`,
    (v, r) => `mongosh "mongodb://admin:${v}@${ip(r)}:27017/?authSource=admin"`,
  ],
  'redis-uri-password': [
    (v, r) => `<redis://default:${v}@${host(r, 'cache')}:6379>`,
    (v, r) => `REDIS_URL=rediss://:${v}@${host(r, 'redis')}:6380/0`,
    (v, r) => `redis-cli -u redis://${user(r)}:${v}@${ip(r)}:6379 ping`,
    (v, r) => `{"cache": {"url": "redis://default:${v}@${chars(r, LOWER, 8)}.upstash.io:6379"}}`,
  ],
  'amqp-uri-password': [
    (v, r) => `CELERY_BROKER_URL=amqp://celery:${v}@${host(r, 'rabbit')}:5672//`,
    (v, r) => `amqps://${user(r)}:${v}@b-${chars(r, HEX, 8)}.mq.eu-west-1.amazonaws.com:5671`,
    (v, r) => `spring.rabbitmq.addresses=amqp://${user(r)}:${v}@${ip(r)}:5672/prod`,
  ],
  'ftp-uri-password': [
    (v, r) => `wget -r ftp://${user(r)}:${v}@${host(r, 'ftp')}/uploads/`,
    (v, r) => `sftp://backup:${v}@${host(r, 'files')}:22/nightly`,
    (v, r) => `open ftps://${user(r)}:${v}@${ip(r)}:990 in FileZilla`,
  ],
  'smtp-uri-password': [
    (v, r) => `MAILER_DSN=smtp://alerts%40acme.io:${v}@${host(r, 'smtp')}:587`,
    (v, r) => `EMAIL_URL=smtps://${user(r)}:${v}@smtp.mailhost.acme.io:465`,
    (v, r) => `imaps://${user(r)}:${v}@${host(r, 'imap')}:993/INBOX`,
  ],
  'git-credential-url': [
    (v, r) => `git clone https://${user(r)}:${v}@bitbucket.org/acme/web.git`,
    (v, r) => `cat ~/.git-credentials\nhttps://${user(r)}:${v}@git.acme.io`,
    (v, r) => `git remote set-url origin https://oauth2:${v}@gitlab.com/acme/${chars(r, LOWER, 6)}.git`,
    (v, r) => `https://${user(r)}:${v}@github.com`,
    (v, r) => `git push https://${user(r)}:${v}@dev.azure.com/acme/platform/_git/deploy`,
    (v, r) => `git clone https://${user(r)}:${v}@scm.acme.io/platform/${chars(r, LOWER, 5)}.git`,
  ],
  'jdbc-url-password': [
    (v, r) => `spring.datasource.url=jdbc:sqlserver://${host(r, 'sql')}:1433;databaseName=billing;user=${user(r)};password=${v};encrypt=true`,
    (v, r) => `jdbc:mysql://${host(r, 'db')}:3306/shop?user=shop&password=${v}&useSSL=true`,
    (v, r) => `"url": "jdbc:postgresql://${host(r, 'pg')}:5432/app?user=app&password=${v}"`,
    (v, r) => `jdbc:oracle:thin:${user(r)}/${v}@//${host(r, 'ora')}:1521/ORCL`,
    (v, r) => `jdbc:db2://${host(r, 'db2')}:50000/SAMPLE:user=db2inst1;password=${v};`,
  ],
  'odbc-connection-string-password': [
    (v, r) => `"DefaultConnection": "Server=tcp:${host(r, 'sql')},1433;Initial Catalog=Orders;User ID=${user(r)};Password=${v};Encrypt=True;"`,
    (v, r) => `Driver={ODBC Driver 18 for SQL Server};Server=${ip(r)};Database=hr;UID=${user(r)};PWD=${v};`,
    (v, r) => `DSN=Warehouse;UID=${user(r)};PWD={${v}};`,
    (v, r) => `Host=${host(r, 'pg')};Database=app;Username=${user(r)};Password=${v}`,
    (v, r) => `Provider=SQLOLEDB;Data Source=${host(r, 'sql')};Initial Catalog=crm;User Id=${user(r)};Password=${v};`,
  ],
  'pgpass-password': [
    (v, r) => `my ~/.pgpass:\n\`\`\`\n${host(r, 'db')}:5432:orders:${user(r)}:${v}\n\`\`\``,
    (v, r) => `*:*:*:${user(r)}:${v}`,
    (v, r) => `echo "${ip(r)}:6432:analytics:${user(r)}:${v}" >> ~/.pgpass`,
    (v, r) => `localhost:5432:*:${user(r)}:${v}`,
  ],
  'kubeconfig-user-token': [
    (v, r) => `users:\n- name: ${user(r)}\n  user:\n    token: ${v}`,
    (v) => `\`\`\`\nusers:\n  - name: admin@prod\n    user:\n      token: "${v}"\ncontexts:\n  - name: prod\n    context: {cluster: prod, user: admin@prod}\n\`\`\``,
    (v, r) => `apiVersion: v1\nkind: Config\nusers:\n- name: ${user(r)}\n  user:\n    as-user-extra: {}\n    token: ${v}\n`,
  ],
  'kubeconfig-user-password': [
    (v) => `users:\n- name: cluster-admin\n  user:\n    username: admin\n    password: ${v}`,
    (v, r) => `- name: ${user(r)}\n  user:\n    password: "${v}"\n    username: ops`,
  ],
  'docker-config-auth': [
    (v) => `{"auths": {"registry.acme.io": {"auth": "${v}"}}}`,
    (v) => `cat ~/.docker/config.json\n{\n  "auths": {\n    "https://index.docker.io/v1/": {\n      "auth": "${v}"\n    }\n  }\n}`,
    (v) => `kubectl get secret regcred -o json: {\\"auths\\":{\\"ghcr.io\\":{\\"auth\\":\\"${v}\\"}}}`,
  ],
  'npmrc-auth-token': [
    (v) => `//artifactory.acme.io/api/npm/npm-virtual/:_authToken=${v}`,
    (v) => `registry=https://nexus.acme.io/repository/npm-group/\n_auth = ${v}\nalways-auth=true`,
    (v) => `.npmrc:\n\`\`\`\n@acme:registry=https://npm.acme.io/\n//npm.acme.io/:_authToken="${v}"\n\`\`\``,
    (v) => `npm config set //pkgs.acme.io/npm/:_password=${v}`,
  ],
  'netrc-password': [
    (v, r) => `machine ${host(r, 'files')} login ${user(r)} password ${v}`,
    (v, r) => `~/.netrc:\nmachine ${host(r, 'git')}\n  login ${user(r)}\n  password ${v}`,
    (v, r) => `default login ${user(r)} password ${v}`,
  ],
  'password-assignment': [
    (v) => `the staging db password is ${v}`,
    (v) => `password: ${v}`,
    (v) => `PASSWORD=${v}`,
    (v) => `pwd=${v} (temporary)`,
    (v) => `DB_PASS=${v}`,
    (v) => `{"user": "svc", "password": "${v}"}`,
    (v) => `PASSWORD := "${v}"`,
    (v) => `pass=${v}`,
    (v) => `$db_password = '${v}';`,
    (v) => `environment:\n  MYSQL_ROOT_PASSWORD: ${v}`,
    (v) => `<password>${v}</password>`,
    (v) => `spring.datasource.password=${v}`,
    (v) => `export PGPASSWORD='${v}'`,
    (v) => `pw: ${v}`,
    (v) => `Password for admin@acme.io: ${v}`,
    (v) => `java -Ddb.password=${v} -jar app.jar`,
    (v) => `smtp_pass = "${v}"`,
  ],
  'generic-api-secret': [
    (v) => `api_key: ${v}`,
    (v) => `client_secret = "${v}"`,
    (v) => `here is the auth token=${v}`,
    (v) => `SECRET_KEY=${v}`,
    (v) => `{"apiKey": "${v}"}`,
    (v) => `const accessToken = '${v}';`,
    (v) => `ACME_API_TOKEN := "${v}"`,
    (v) => `export WEBHOOK_SECRET="${v}"`,
    (v) => `x-api-key: ${v}`,
    (v) => `acme-cli deploy --token ${v}`,
    (v) => `credentials: ${v}`,
    (v) => `auth=${v}`,
    (v) => `the api key is ${v}`,
    (v) => `MAILGUN_KEY=${v}`,
    (v) => `<add key="ApiKey" value="${v}" />`,
    (v) => `secret: ${v}`,
    (v) => `[default]\ntoken = "${v}"`,
  ],
  },
  nearMisses: {
  'private-key': [
    'client-key-data: REDACTED',
    '    client-key-data: ${CLIENT_KEY_DATA}',
    '-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----',
    'paste your -----BEGIN PRIVATE KEY----- block into the vault, not here',
    '-----BEGIN PRIVATE KEY-----\n<your key here>\n-----END PRIVATE KEY-----',
    '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0\n-----END PUBLIC KEY-----',
    '-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJRTESMBAGA1UEChMJQmFsdGltb3JlMRMwEQYDVQQL\n-----END CERTIFICATE-----',
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n-----END RSA PRIVATE KEY-----',
    '-----BEGIN EC PRIVATE KEY-----\n[REDACTED]\n-----END EC PRIVATE KEY-----',
  ],
  'encrypted-private-key': ['-----BEGIN ENCRYPTED PRIVATE KEY-----\n<base64 here>\n-----END ENCRYPTED PRIVATE KEY-----', 'openssl pkcs8 -topk8 writes -----BEGIN ENCRYPTED PRIVATE KEY----- blocks'],
  'openssh-private-key': [
    '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE...\n-----END OPENSSH PRIVATE KEY-----',
    'ssh-keygen writes -----BEGIN OPENSSH PRIVATE KEY----- files by default since 7.8',
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq3Tz9Lw0vYbN4mK7pRs2Xc8uE1dGhJ5fA6oWiQ0tVz deploy@ci',
  ],
  'pgp-private-key': ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGVk8aIBEADq3Tz9Lw0vYbN4mK7pRs2Xc8uE1dGhJ5fA6oWiQ0tVzB3nMy7LkPe2Sx9RaDfC4HgT5uJ8vIbN1mKo3LqWe7Rx2Zc\n-----END PGP PUBLIC KEY BLOCK-----', 'gpg --armor --export-secret-keys prints a -----BEGIN PGP PRIVATE KEY BLOCK----- ... block'],
  'putty-private-key': ['PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 2\nPrivate-Lines: 1\n<private blob>\nPrivate-MAC: <mac>', 'puttygen writes Private-Lines: and Private-MAC: lines into the .ppk'],
  jwt: [
    'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjMifQ.',
    'JWTs look like eyJ...',
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  ],
  'http-basic-auth': [
    'Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
    'Authorization: Basic dXNlcm5hbWU6cGFzc3dvcmQ=',
    'Authorization: Basic <base64 of user:pass>',
    'Authorization: Basic ${BASIC_AUTH}',
    `curl -H "Authorization: Basic ${base64('admin:admin')}" http://localhost:8080`,
    'the server answers 401 with WWW-Authenticate: Basic realm="staging"',
    'Authorization: Basic $(echo -n "$USER:$PASS" | base64)',
    'the Authorization header uses basic auth over TLS',
    'xhr.setRequestHeader("Authorization", "Basic " + btoa(user + ":" + pass));',
  ],
  'http-bearer-token': [
    'Authorization: Bearer <token>',
    'Authorization: Bearer $ACCESS_TOKEN',
    '-H "Authorization: Bearer ${{ secrets.API_TOKEN }}"',
    'Authorization: Bearer YOUR_ACCESS_TOKEN',
    'Authorization: Bearer mF_9.B5f-4.1JqM',
    "headers['Authorization'] = 'Bearer ' + token",
    'Authorization: Bearer {{access_token}}',
    'the authorization server returns a bearer token plus a refresh token',
    'xhr.setRequestHeader("Authorization", "Bearer " + accessToken);',
    'Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  ],
  'curl-user-password': [
    'curl -u admin:admin http://localhost:9200',
    'curl -u "$USER:$PASSWORD" https://api.acme.io',
    'curl -u deploy https://nexus.acme.io (it prompts for the password)',
    'curl -u elastic:changeme https://localhost:9200/_cat/indices',
    'curl -u user:secret https://api.acme.io',
    'curl --user "${NEXUS_USER}:${NEXUS_PASS}" https://nexus.acme.io',
    'curl --user-agent "Mozilla/5.0 (X11; Linux x86_64)" https://acme.io',
  ],
  'cli-password-flag': [
    'wget --user=deploy --password=$WGET_PASSWORD https://files.acme.io/x',
    'mysql -h db.acme.io -u root -p orders',
    'docker login --username ci --password-stdin < token.txt',
    'keytool -list -keystore cacerts -storepass changeit',
    'use --password=<password> or the prompt',
    'psql --host db.acme.io --password --dbname orders',
    'mysql -h db.acme.io -P 3306 -u root -p',
    'sshpass -p "$SSH_PASS" ssh ops@10.0.4.2',
  ],
  'connection-string-password': [
    'postgres://user:password@localhost:5432/db',
    'mysql://root:${MYSQL_PASSWORD}@db:3306/app',
    'https://user:pass@example.com',
    'redis://:****@cache:6379',
    'postgresql://app:${DB_PASSWORD}@db:5432/app',
    'postgres://app:S3cr3tPw9x@db.example.com/app',
    'postgres://postgres:postgres@localhost:5432/postgres',
    'see https://docs.acme.io:443/guide and ssh://git@github.com:22/acme/api.git',
    'postgresql://<user>:<password>@<host>:5432/<db>',
    'DATABASE_URL=postgres://%(user)s:%(password)s@db/app',
  ],
  'mysql-uri-password': ['mysql://root:root@localhost:3306/test', 'mysql://user:${MYSQL_PASSWORD}@db:3306/app', 'mysql://app:changeme@mysql:3306/app'],
  'mongodb-uri-password': [
    'mongodb://myDBReader:D1fficultP%40ssw0rd@mongodb0.example.com:27017/?authSource=admin',
    'mongodb+srv://<username>:<password>@cluster0.abcde.mongodb.net/',
    'mongodb+srv://admin:<db_password>@cluster0.x7kq2.mongodb.net/?retryWrites=true',
    'mongodb://mongo:mongo@localhost:27017',
  ],
  'redis-uri-password': ['redis://:****@cache:6379', 'redis://user:secret@localhost:6379/0', 'redis://default:${REDIS_PASSWORD}@redis:6379', 'redis://localhost:6379/0'],
  'amqp-uri-password': ['amqp://guest:guest@localhost:5672/', 'amqp://user:pass@host:5672/vhost', 'amqp://${RABBIT_USER}:${RABBIT_PASS}@rabbit:5672'],
  'ftp-uri-password': ['ftp://anonymous:guest@ftp.gnu.org/gnu/', 'sftp://user:password@host/path', 'ftp://ftp.acme.io/pub/'],
  'smtp-uri-password': ['smtp://user:pass@smtp.example.com:587', 'MAILER_DSN=smtp://${SMTP_USER}:${SMTP_PASSWORD}@smtp.acme.io:587', 'smtp://smtp.acme.io:25'],
  'git-credential-url': [
    'git clone https://github.com/acme/api.git',
    'https://username:password@github.com/acme/api.git',
    'git remote set-url origin https://oauth2:${GITLAB_TOKEN}@gitlab.com/acme/infra.git',
    'git clone git@github.com:acme/api.git',
    'https://x-access-token:<token>@github.com/acme/api.git',
  ],
  'jdbc-url-password': [
    'jdbc:postgresql://pg.acme.io:5432/app?user=app&password=${DB_PASSWORD}',
    'jdbc:oracle:thin:scott/tiger@localhost:1521:orcl',
    'jdbc:sqlserver://sql01:1433;databaseName=billing;integratedSecurity=true',
    'jdbc:mysql://localhost:3306/test?user=root&password=',
    'jdbc:sqlserver://localhost;user=MyUserName;password=*****;',
  ],
  'odbc-connection-string-password': [
    'Server=myServerAddress;Database=myDataBase;User Id=myUsername;Password=myPassword;',
    'Server=sql01;Database=hr;Trusted_Connection=True;',
    'Data Source=db01;Initial Catalog=crm;User Id=crm;Password=<password>;',
    'Driver={ODBC Driver 18 for SQL Server};Server=db;UID=sa;PWD={your_password};',
    'Server=db;Database=app;User Id=app;Password=%DB_PASSWORD%;',
  ],
  'pgpass-password': ['hostname:port:database:username:password', 'localhost:5432:*:postgres:postgres', '10.0.0.5:5432:orders:app:${PGPASSWORD}', '2001:db8:5432:1:2:3:4:5', 'at 10:15:30:45 the job ran'],
  'kubeconfig-user-token': [
    'users:\n- name: ci\n  user:\n    token: <token>',
    'users:\n- name: ci\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token',
    'users:\n- name: ci\n  user:\n    token: abcdef.0123456789abcdef',
    'users:\n- name: ci\n  user:\n    token: ${K8S_TOKEN}',
  ],
  'kubeconfig-user-password': ['users:\n- name: cluster-admin\n  user:\n    username: admin\n    password: uXFGweU9l35qcif', 'users:\n- name: x\n  user:\n    password: ${KUBE_PASSWORD}'],
  'docker-config-auth': [
    '{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcm5hbWU6cGFzc3dvcmQ="}}}',
    '{"auths": {"quay.io": {"auth": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}}',
    '{"auths": {"docker.io": {"auth": "erfi7sYi89234xJUqaqxgmzcnQ2rRFWM5aJX0EC="}}}',
    '{"credsStore": "desktop", "auths": {"https://index.docker.io/v1/": {}}}',
    `{"auths": {"registry.acme.io": {"auth": "${base64('ci:changeme')}"}}}`,
  ],
  'npmrc-auth-token': ['//registry.npmjs.org/:_authToken=${NPM_TOKEN}', '//registry.npmjs.org/:_authToken=<your-token>', 'always-auth=true'],
  'netrc-password': ['machine api.acme.io login me@acme.io password <token>', 'machine example.com login user password secret', 'the build machine login failed, password reset sent'],
  'password-assignment': [
    'password: ********',
    'password is required',
    'password=${DB_PASSWORD}',
    'password: <your password>',
    'reset your password at https://id.acme.io',
    'the password is changeme',
    'password = os.environ["DB_PASSWORD"]',
    'password: process.env.DB_PASSWORD',
    'pass=password123',
    'password_hash: $2b$12$KIXQJQ3n6x1c9Zr0TqXv0eTm5LkNw2bHs7Yc9JfD1eGaQiRt4UoV6',
    'DB_PASSWORD=%DB_PASSWORD%',
    'password: "{{ vault_db_password }}"',
    'password = getpass.getpass()',
    "password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256",
    'PASSWORD=hunter2',
    'pw: foobar',
    'password: p@ssw0rd',
    'the password must be at least 12 characters',
    'DB_PASSWORD_FILE=/run/secrets/db_password',
    'password: 5f4dcc3b5aa765d61d8327deb882cf99',
    'compass=N42W73',
    'password_min_length: 12',
    'PASSWORD_RESET_TIMEOUT=259200',
    'passwordless login is live',
    'pass the --verbose flag to see more',
    'bypass_cache=true',
    'cat /etc/passwd: root:x:0:0:root:/root:/bin/bash',
    'pwd: /home/deploy/app',
    'password = models.CharField(max_length=128)',
    'password: hashed_password_from_db',
    'password = bcrypt.hashpw(pw, bcrypt.gensalt())',
    'password_hash = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"',
    'password: ENC(G7hTq9Lx2Kp4Vz8Rm3Wb)',
    'password = input("Password: ")',
    'PASSWORD=$(vault kv get -field=password secret/db)',
    '<password>${env.DB_PASSWORD}</password>',
    'password = config["database"]["password"]',
    'password: see 1password vault "infra"',
    'mongodb+srv://<username>:<password>@cluster0.abcde.mongodb.net/',
  ],
  'generic-api-secret': [
    'api_key: your-api-key-here',
    'token: 0123456789abcdef0123456789abcdef01234567',
    'secret = "{{ vault.secret }}"',
    'client_secret=<CLIENT_SECRET>',
    'api_key: OPENAI_API_KEY',
    'secret: mySuperSecretValue',
    'private_key: ~/.ssh/id_ed25519_deploy',
    'next_page_token: CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA3eGl4ZxIBMQ',
    'public_key: MCowBQYDK2VwAyEAq3Tz9Lw0vYbN4mK7pRs2Xc8u',
    'secret: projects/acme-prod/secrets/db-password/versions/3',
    'API_KEY=process.env.ACME_API_KEY',
    'token: ${{ secrets.GITHUB_TOKEN }}',
    'api_key = os.getenv("ACME_API_KEY")',
    'SECRET_KEY_FILE=/run/secrets/app_secret_key',
    'client_id: 9b2e4c6a-1f3d-4e5b-8a7c-0d9e1f2a3b4c',
    'request id 3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f failed',
    'max_tokens: 4096',
    'sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'commit 4e1243bd22c66e76c2ba9eddc1f91394e57f9f83 fixed the token refresh',
    'token_type: Bearer',
    'auth: ${AUTH_HEADER}',
    'csrf_token: 8f2a9c1e7b4d4e8a9c0f1a2b3c4d5e6f',
    'api_key: sk_test_xxxxxxxxxxxxxxxxxxxxxxxx',
    'api_key: str = Field(..., description="the API key")',
    'const token = await getToken();',
    'token: string;',
    'apiKey: process.env.ACME_KEY,',
    'token_url: https://auth.acme.io/oauth/token',
    'token_endpoint_auth_method: client_secret_basic',
    'secretName: my-tls-secret',
    'token_hash: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    'ACCESS_TOKEN_EXPIRE_MINUTES=30',
    'token = request.headers.get("Authorization")',
    'token = jwt.encode(payload, SECRET, algorithm="HS256")',
    'secret = secrets.token_hex(32)',
    'auth_token = Column(String(64))',
    '"token": "2024-05-01T10:00:00Z"',
    'secret_key_base: <%= ENV["SECRET_KEY_BASE"] %>',
    'AUTH_TOKEN=dev-token-please-change-me',
    'jwt_secret: supersecretjwtkeyforlocaldev',
    'SECRET_KEY=change-this-to-a-long-random-string',
    'PRIMARY_KEY=customer_id_region_2024',
    'cache_key: user:12345:profile:v2',
    's3_key: uploads/2024/05/report-final-v3.pdf',
    '"idempotencyKey": "9b2e4c6a-1f3d-4e5b-8a7c-0d9e1f2a3b4c"',
    'api_key = "REPLACE_WITH_YOUR_KEY"',
    'API_KEY=your_api_key_goes_here',
    'ENCRYPTION_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    'KMS_KEY=alias/acme-prod-data',
    'SIGNING_KEY_PATH=/etc/acme/signing.pem',
    'private_key_path: ./certs/server.key',
    'api_key_id: ak_live_id_8f2a9c1e',
    'https://x-access-token:<token>@github.com/acme/api.git',
  ],
  },
};

/** Two digits, for dates in key comments. */
function digits2(r: Rng): string {
  return String(int(r, 1, 28)).padStart(2, '0');
}
