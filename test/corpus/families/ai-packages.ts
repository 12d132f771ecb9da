/** Corpus generators for the ai-packages detectors (rules/secrets-ai-packages.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, b64url, chars, DIGITS, genericContexts, HEX, int, LOWER, pick, token, UPPER, URLSAFE, type Family, type Rng } from '../random';

type Context = (v: string, r: Rng) => string;

/** How chat leaks a prefixed token: bare, in sentences, fences, assignments, JSON, YAML, code, headers and URLs. */
const wide: Context[] = [
  ...genericContexts,
  (v) => `export API_TOKEN="${v}"`,
  (v) => `{"token": "${v}", "ttl": 3600}`,
  (v) => `auth:\n  token: ${v}\n  retries: 3`,
  (v) => `const token = '${v}';`,
  (v) => `curl -H "Authorization: Bearer ${v}" https://api.acme.io/v1/status`,
  (v) => `(${v})`,
  (v) => `<${v}>`,
  (v) => `token=${v};`,
];

/** Where a prefixless key is found only next to its provider's name: env files, YAML, JSON, code and sentences. */
function keyed(env: string, prose: string, code: Context[] = []): Context[] {
  const lower = env.toLowerCase();
  return [
    (v) => `${env}=${v}`,
    (v) => `export ${env}="${v}"`,
    (v) => `${lower}: ${v}`,
    (v) => `{"${lower}": "${v}"}`,
    (v) => `here is the ${prose}: ${v}`,
    (v) => `the ${prose} is ${v}, please rotate it after the demo`,
    (v) => `config:\n\`\`\`\n${env}=${v}\n\`\`\``,
    ...code,
  ];
}

const uuid = (r: Rng) => `${chars(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${chars(r, HEX, 3)}-${chars(r, HEX, 12)}`;
const LETTERS = UPPER + LOWER;
/** 1Password's Secret Key alphabet: digits and capitals without the look-alikes. */
const OP_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTVWXYZ';
/** Bech32's data alphabet, upper case as age prints secret keys. */
const BECH32 = 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L';

/** A 1Password service-account token: "ops_" and base64url of the account's sign-in JSON. */
function onePasswordServiceToken(r: Rng): string {
  const json = JSON.stringify({
    signInAddress: pick(r, ['my.1password.com', 'my.1password.eu', 'acme-corp.1password.com']),
    userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: token(r, URLSAFE, 22) },
    email: `${chars(r, LOWER + DIGITS, 13)}@1passwordserviceaccounts.com`,
    srpX: chars(r, HEX, 64),
    muk: { alg: 'A256GCM', ext: true, k: token(r, URLSAFE, 43), key_ops: ['encrypt', 'decrypt'], kty: 'oct', kid: 'mp' },
    secretKey: `A3-${chars(r, OP_ALPHABET, 6)}-${chars(r, OP_ALPHABET, 6)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}`,
    throttleSecret: { seed: chars(r, HEX, 64), deviceUuid: token(r, LOWER + DIGITS, 26) },
    deviceUuid: token(r, LOWER + DIGITS, 26),
  });
  return 'ops_' + b64url(json);
}

export const family: Family = {
  values: {
  // AI platforms
  'openai-api-key': (r) =>
    pick(r, [
      () => `sk-proj-${token(r, URLSAFE, 74)}T3BlbkFJ${token(r, URLSAFE, 74)}`,
      () => `sk-proj-${token(r, ALNUM, 20)}T3BlbkFJ${token(r, ALNUM, 20)}`,
      () => `sk-svcacct-${token(r, URLSAFE, 74)}T3BlbkFJ${token(r, URLSAFE, 74)}`,
      () => `sk-None-${token(r, ALNUM, 20)}T3BlbkFJ${token(r, ALNUM, 20)}`,
      () => `sk-${token(r, ALNUM, 20)}T3BlbkFJ${token(r, ALNUM, 20)}`,
    ])(),
  'openai-admin-key': (r) => `sk-admin-${token(r, URLSAFE, int(r, 40, 80))}T3BlbkFJ${token(r, URLSAFE, int(r, 40, 80))}`,
  'anthropic-api-key': (r) => `sk-ant-api03-${token(r, URLSAFE, 93)}AA`,
  'anthropic-admin-key': (r) => `sk-ant-admin01-${token(r, URLSAFE, 93)}AA`,
  'huggingface-access-token': (r) => 'hf_' + chars(r, LETTERS, 34),
  'huggingface-org-api-token': (r) => 'api_org_' + chars(r, LETTERS, 34),
  'cohere-api-key': (r) => token(r, ALNUM, 40),
  'replicate-api-token': (r) => 'r8_' + token(r, ALNUM, 37),
  'groq-api-key': (r) => 'gsk_' + token(r, ALNUM, 52),
  'mistral-api-key': (r) => token(r, ALNUM, 32),
  'perplexity-api-key': (r) => 'pplx-' + token(r, ALNUM, 48),
  'xai-api-key': (r) => 'xai-' + token(r, ALNUM, 80),
  'openrouter-api-key': (r) => 'sk-or-v1-' + token(r, HEX, 64),
  'langsmith-api-key': (r) => (r() < 0.8 ? `lsv2_${pick(r, ['pt', 'sk'])}_${token(r, HEX, 32)}_${token(r, HEX, 10)}` : `ls__${token(r, HEX, 32)}`),
  'pinecone-api-key': (r) => `pcsk_${token(r, ALNUM, int(r, 5, 6))}_${token(r, ALNUM, 63)}`,
  'pinecone-legacy-api-key': (r) => uuid(r),
  'elevenlabs-api-key': (r) => (r() < 0.6 ? 'sk_' + token(r, HEX, 48) : token(r, HEX, 32)),
  'deepseek-api-key': (r) => 'sk-' + token(r, HEX, 32),
  'langfuse-secret-key': (r) => 'sk-lf-' + uuid(r),
  'nvidia-api-key': (r) => 'nvapi-' + token(r, URLSAFE, 64),
  'wandb-api-key': (r) => token(r, HEX, 40),
  // Package registries
  'docker-hub-pat': (r) => 'dckr_pat_' + token(r, URLSAFE, 27),
  'docker-hub-org-access-token': (r) => 'dckr_oat_' + token(r, URLSAFE, 32),
  'docker-hub-legacy-pat': (r) => uuid(r),
  'npm-access-token': (r) => 'npm_' + token(r, ALNUM, 36),
  'npm-legacy-auth-token': (r) => uuid(r),
  'pypi-upload-token': (r) => 'pypi-AgEIcHlwaS5vcmc' + token(r, URLSAFE, int(r, 60, 200)),
  'pypi-test-upload-token': (r) => 'pypi-AgENdGVzdC5weXBpLm9yZw' + token(r, URLSAFE, int(r, 60, 200)),
  'rubygems-api-key': (r) => 'rubygems_' + token(r, HEX, 48),
  'rubygems-legacy-api-key': (r) => token(r, HEX, 32),
  'nuget-api-key': (r) => 'oy2' + token(r, LOWER + DIGITS, 43),
  'crates-io-api-token': (r) => 'cio' + token(r, ALNUM, 32),
  'crates-io-trusted-publishing-token': (r) => 'cio_tp_' + token(r, ALNUM, 32),
  'clojars-deploy-token': (r) => 'CLOJARS_' + token(r, HEX, 60),
  // Infrastructure as code and secret managers
  'terraform-cloud-api-token': (r) => `${token(r, ALNUM, 14)}.atlasv1.${token(r, ALNUM, 67)}`,
  'pulumi-access-token': (r) => 'pul-' + token(r, HEX, 40),
  'vault-token': (r) =>
    pick(r, [
      () => 'hvs.' + token(r, ALNUM, 24),
      () => 'hvs.CAES' + token(r, URLSAFE, int(r, 86, 110)),
      () => 'hvb.AAAAAQ' + token(r, URLSAFE, int(r, 130, 180)),
      () => 'hvr.' + token(r, ALNUM, 24),
    ])(),
  'vault-legacy-token': (r) => (r() < 0.8 ? 's.' + token(r, ALNUM, 24) : 'b.AAAAAQ' + token(r, URLSAFE, int(r, 120, 160))),
  'doppler-token': (r) =>
    r() < 0.3
      ? `dp.st.${pick(r, ['dev', 'stg', 'prd', 'ci', 'dev_personal', 'prd-eu'])}.${token(r, ALNUM, 40)}`
      : `dp.${pick(r, ['pt', 'st', 'sa', 'ct', 'scim', 'audit'])}.${token(r, ALNUM, 43)}`,
  'infisical-service-token': (r) => `st.${token(r, HEX, 24)}.${token(r, HEX, 32)}.${token(r, HEX, 32)}`,
  'onepassword-secret-key': (r) =>
    `A3-${chars(r, OP_ALPHABET, 6)}-${chars(r, OP_ALPHABET, 6)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}-${chars(r, OP_ALPHABET, 5)}`,
  'onepassword-service-account-token': onePasswordServiceToken,
  'age-secret-key': (r) => 'AGE-SECRET-KEY-1' + chars(r, BECH32, 58),
  },
  contexts: {
  'openai-api-key': wide,
  'openai-admin-key': wide,
  'anthropic-api-key': wide,
  'anthropic-admin-key': wide,
  'huggingface-access-token': [...wide, (v) => `huggingface-cli login --token ${v}`, (v) => `hf_hub_download(repo_id="acme/model", token="${v}")`],
  'huggingface-org-api-token': wide,
  'cohere-api-key': keyed('COHERE_API_KEY', 'cohere api key', [
    (v) => `CO_API_KEY=${v}`,
    (v) => `co = cohere.ClientV2("${v}")`,
    (v) => `co = cohere.Client(api_key="${v}")`,
    (v) => `const cohere = new CohereClient({ token: "${v}" });`,
  ]),
  'replicate-api-token': [...wide, (v) => `REPLICATE_API_TOKEN=${v}`],
  'groq-api-key': [...wide, (v) => `GROQ_API_KEY=${v}`],
  'mistral-api-key': keyed('MISTRAL_API_KEY', 'Mistral API key', [(v) => `client = Mistral(api_key="${v}")`, (v) => `const mistral = new Mistral({ apiKey: '${v}' });`]),
  'perplexity-api-key': [...wide, (v) => `PERPLEXITY_API_KEY=${v}`],
  'xai-api-key': [...wide, (v) => `XAI_API_KEY=${v}`],
  'openrouter-api-key': [...wide, (v) => `OPENROUTER_API_KEY=${v}`],
  'langsmith-api-key': [...wide, (v) => `LANGSMITH_API_KEY=${v}`, (v) => `LANGCHAIN_API_KEY="${v}"`],
  'pinecone-api-key': [...wide, (v) => `pc = Pinecone(api_key="${v}")`, (v) => `-H "Api-Key: ${v}"`],
  'pinecone-legacy-api-key': keyed('PINECONE_API_KEY', 'pinecone api key', [(v) => `pinecone.init(api_key="${v}", environment="us-west1-gcp")`, (v) => `pc = Pinecone(api_key='${v}')  # pinecone key`]),
  'elevenlabs-api-key': keyed('ELEVENLABS_API_KEY', 'ElevenLabs API key', [
    (v) => `curl https://api.elevenlabs.io/v1/models -H "xi-api-key: ${v}"`,
    (v) => `xi-api-key: ${v}`,
    (v) => `const elevenlabs = new ElevenLabsClient({ apiKey: "${v}" });`,
  ]),
  'deepseek-api-key': keyed('DEEPSEEK_API_KEY', 'deepseek key', [
    (v) => `curl https://api.deepseek.com/chat/completions -H "Authorization: Bearer ${v}"`,
    (v) => `deepseek: ${v}`,
  ]),
  'langfuse-secret-key': [...wide, (v) => `LANGFUSE_SECRET_KEY=${v}`, (v) => `langfuse = Langfuse(public_key="pk-lf-7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", secret_key="${v}")`],
  'nvidia-api-key': [...wide, (v) => `export NVIDIA_API_KEY='${v}'`],
  'wandb-api-key': keyed('WANDB_API_KEY', 'wandb api key', [(v) => `wandb login ${v}`, (v) => `wandb login --relogin ${v}`, (v) => `wandb.login(key="${v}")`]),
  'docker-hub-legacy-pat': [
    (v) => `docker login -u acme-ci -p ${v}`,
    (v) => `docker login --username acme-ci --password ${v} registry-1.docker.io`,
    (v) => `DOCKERHUB_TOKEN=${v}`,
    (v) => `export DOCKER_PASSWORD="${v}"`,
    (v) => `the docker hub token is ${v}`,
    (v) => `dockerhub_token: ${v}`,
  ],
  'docker-hub-pat': [...wide, (v) => `echo ${v} | docker login -u acme-ci --password-stdin`, (v) => `DOCKERHUB_TOKEN=${v}`],
  'docker-hub-org-access-token': [...wide, (v) => `docker login -u acme -p ${v}`],
  'npm-access-token': [...wide, (v) => `//registry.npmjs.org/:_authToken=${v}`, (v) => `NPM_TOKEN=${v}`],
  'npm-legacy-auth-token': [
    (v) => `//registry.npmjs.org/:_authToken=${v}`,
    (v) => `.npmrc:\n\`\`\`\n//registry.npmjs.org/:_authToken=${v}\n\`\`\``,
    (v) => `NPM_TOKEN=${v}`,
    (v) => `export NPM_TOKEN="${v}"`,
    (v) => `the npm token is ${v}`,
    (v) => `npm_auth_token: ${v}`,
  ],
  'pypi-upload-token': [...wide, (v) => `[pypi]\n  username = __token__\n  password = ${v}`, (v) => `twine upload -u __token__ -p ${v} dist/*`],
  'pypi-test-upload-token': [...wide, (v) => `[testpypi]\n  username = __token__\n  password = ${v}`],
  'rubygems-api-key': [...wide, (v) => `GEM_HOST_API_KEY=${v} gem push acme-1.2.3.gem`, (v) => `---\n:rubygems_api_key: ${v}`],
  'rubygems-legacy-api-key': [
    (v) => `---\n:rubygems_api_key: ${v}`,
    (v) => `GEM_HOST_API_KEY=${v} gem push acme-1.2.3.gem`,
    (v) => `export GEM_HOST_API_KEY="${v}"`,
    (v) => `~/.gem/credentials has rubygems_api_key: ${v}`,
  ],
  'nuget-api-key': [...wide, (v) => `dotnet nuget push Acme.Core.1.2.0.nupkg --api-key ${v} --source https://api.nuget.org/v3/index.json`],
  'crates-io-api-token': [...wide, (v) => `cargo login ${v}`, (v) => `[registry]\ntoken = "${v}"`, (v) => `CARGO_REGISTRY_TOKEN=${v}`],
  'crates-io-trusted-publishing-token': [...wide, (v) => `CARGO_REGISTRY_TOKEN=${v}`],
  'clojars-deploy-token': [...wide, (v) => `CLOJARS_PASSWORD=${v}`, (v) => `<password>${v}</password>`],
  'terraform-cloud-api-token': [...wide, (v) => `credentials "app.terraform.io" {\n  token = "${v}"\n}`, (v) => `TF_TOKEN_app_terraform_io=${v}`],
  'pulumi-access-token': [...wide, (v) => `PULUMI_ACCESS_TOKEN=${v}`, (v) => `pulumi login --token ${v}`],
  'vault-token': [...wide, (v) => `VAULT_TOKEN=${v}`, (v) => `curl -H "X-Vault-Token: ${v}" https://vault.acme.io/v1/secret/data/app`],
  'vault-legacy-token': [
    (v) => `VAULT_TOKEN=${v}`,
    (v) => `export VAULT_TOKEN="${v}"`,
    (v) => `curl -H "X-Vault-Token: ${v}" https://vault.acme.io/v1/secret/data/app`,
    (v) => `vault login ${v}`,
    (v) => `the vault token is ${v}`,
    (v) => `vault_token: ${v}`,
  ],
  'doppler-token': [...wide, (v) => `DOPPLER_TOKEN=${v}`, (v) => `echo '${v}' | doppler configure set token --scope /usr/src/app`],
  'infisical-service-token': [
    (v) => `INFISICAL_TOKEN=${v}`,
    (v) => `export INFISICAL_TOKEN="${v}"`,
    (v) => `infisical run --token=${v} -- npm start`,
    (v) => `infisical export --token ${v}`,
    (v) => `the infisical service token is ${v}`,
    (v) => `{"infisicalToken": "${v}"}`,
  ],
  'onepassword-secret-key': [...wide, (v) => `my 1Password secret key is ${v}`, (v) => `Secret Key: ${v}`],
  'onepassword-service-account-token': [...wide, (v) => `export OP_SERVICE_ACCOUNT_TOKEN=${v}`],
  'age-secret-key': [
    ...wide,
    (v, r) => `# created: 2024-05-01T10:00:00Z\n# public key: age1${chars(r, BECH32.toLowerCase(), 58)}\n${v}`,
    (v) => `SOPS_AGE_KEY=${v}`,
  ],
  },
  nearMisses: {
  'openai-api-key': ['OPENAI_API_KEY=sk-...', 'sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'OPENAI_API_KEY=sk-proj-<your-key>', 'keys look like sk-proj-... or sk-svcacct-...'],
  'openai-admin-key': ['export OPENAI_ADMIN_KEY=sk-admin-...', '"redacted_value": "sk-admin...def"'],
  'anthropic-api-key': ['ANTHROPIC_API_KEY=sk-ant-api03-...', 'ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'anthropic-admin-key': ['Admin keys start with sk-ant-admin01-...'],
  'huggingface-access-token': ['hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'HF_TOKEN=hf_your_actual_token_here', 'from huggingface_hub import hf_hub_download'],
  'huggingface-org-api-token': ['api_org_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'cohere-api-key': ['COHERE_API_KEY=<your-api-key>', 'COHERE_API_KEY=${COHERE_API_KEY}', 'cohere api key: see 1Password'],
  'replicate-api-token': ['REPLICATE_API_TOKEN=r8_your_token_here', 'export REPLICATE_API_TOKEN=r8_....'],
  'groq-api-key': ['GROQ_API_KEY=gsk_your_actual_key_here', 'GROQ_API_KEY=gsk_...'],
  'mistral-api-key': ['MISTRAL_API_KEY=your-api-key', 'mistral api key: ********************************'],
  'perplexity-api-key': ['PERPLEXITY_API_KEY=pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'xai-api-key': ['XAI_API_KEY=xai-...', 'see https://github.com/xai-org/grok-1'],
  'openrouter-api-key': ['OPENROUTER_API_KEY=sk-or-v1-your-key-here'],
  'langsmith-api-key': ['LANGSMITH_API_KEY=lsv2_pt_...', 'Client(api_key="lsv2_pt_...")'],
  'pinecone-api-key': ['PINECONE_API_KEY=pcsk_...', 'New keys have the format pckey_<public-label>_<unique-key>'],
  'pinecone-legacy-api-key': ['pc = Pinecone(api_key="YOUR_API_KEY")', `pinecone index id ${'3f1c2e4a-9b7d-4c2a-8e1f-0a9b8c7d6e5f'}`],
  'elevenlabs-api-key': ['xi-api-key: $ELEVENLABS_API_KEY', "ElevenLabs(api_key='YOUR_API_KEY')"],
  'deepseek-api-key': ['DEEPSEEK_API_KEY=sk-...', 'deepseek api key: your_api_key_here'],
  'docker-hub-pat': ['docker login -u myusername --password-stdin <<< dckr_pat_124509ugsdjga93', 'DOCKERHUB_TOKEN=dckr_pat_...'],
  'docker-hub-org-access-token': ['DOCKER_API_TOKEN_CLOUD=dckr_oat_...'],
  'docker-hub-legacy-pat': ['docker login -u acme -p $DOCKERHUB_TOKEN', 'docker image id 3f1c2e4a-9b7d-4c2a-8e1f-0a9b8c7d6e5f pulled'],
  'langfuse-secret-key': ['LANGFUSE_SECRET_KEY=sk-lf-...', 'LANGFUSE_PUBLIC_KEY=pk-lf-88a6121c-69a1-4bc7-b124-26c2004d05af'],
  'nvidia-api-key': ["export NVIDIA_API_KEY='nvapi-...'"],
  'wandb-api-key': ['export WANDB_API_KEY=your-api-key-here-copy-from-wandb.ai-settings', 'wandb run finished at commit 9b1f0e6c2d4a8b7e3c5f1a0d9e8b7c6a5f4e3d2c'],
  'npm-access-token': ['//registry.npmjs.org/:_authToken=${NPM_TOKEN}', 'npm_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'npm-legacy-auth-token': ['//registry.npmjs.org/:_authToken=${NPM_TOKEN}', 'npm token list shows 3f1c2e4a'],
  'pypi-upload-token': ['pypi.org tokens start with pypi-AgEIcHlwaS5vcmc...', 'password = pypi-<token>'],
  'rubygems-api-key': ['GEM_HOST_API_KEY=rubygems_123456 gem push example-1.2.3.gem'],
  'rubygems-legacy-api-key': ['GEM_HOST_API_KEY=rubygems_123456 gem push example-1.2.3.gem', ':rubygems_api_key: <api key>'],
  'nuget-api-key': ['dotnet nuget push pkg.nupkg --api-key <API_KEY> --source nuget.org', 'toy2 oy2 boy2'],
  'crates-io-api-token': ['that looks suspicious, precious and delicious', 'cargo login <token>', 'the token starts with cio and has 32 characters'],
  'crates-io-trusted-publishing-token': ['tokens start with cio_tp_ and expire after 30 minutes'],
  'clojars-deploy-token': ['CLOJARS_USERNAME=acme', 'CLOJARS_PASSWORD=${CLOJARS_TOKEN}'],
  'terraform-cloud-api-token': ['token = "xxxxxxxxxxxxxx.atlasv1.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'],
  'pulumi-access-token': ['"tokenValue": "pul-75a564ac7f3a48079a0c448c1e1ec95c4cfed141"', 'PULUMI_ACCESS_TOKEN=pul-...'],
  'vault-token': ['VAULT_TOKEN=hvs.<token>', 'token prefixes: hvs. (service), hvb. (batch), hvr. (recovery)', 'VAULT_TOKEN=hvs.xxxxxxxxxxxxxxxxxxxxxxxx'],
  'vault-legacy-token': ['export VAULT_TOKEN=s.xxxxxxxxxxxxxxxxxxxxxxxx', 'vault login -method=userpass username=alice', 'the vault token is s.<token>'],
  'doppler-token': ["echo 'dp.st.prd.xxxx' | doppler configure set token --scope /usr/src/app", 'DOPPLER_TOKEN=dp.st.<token>'],
  'infisical-service-token': ['Consider the token st.abc.def.ghi: st.abc.def authenticates', 'INFISICAL_TOKEN=st.<token>'],
  'onepassword-secret-key': ['A3-XXXXXX-XXXXXX-XXXXX-XXXXX-XXXXX-XXXXX', 'your Secret Key starts with A3- and is 34 characters'],
  'onepassword-service-account-token': ['OP_SERVICE_ACCOUNT_TOKEN=ops_xxx_xxxxxxxxxxxxxxxxxxxxxxxxxx', 'tokens look like ops_eyJ...'],
  'age-secret-key': ['AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ', 'age identities start with AGE-SECRET-KEY-1'],
  },
};

