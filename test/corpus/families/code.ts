/** Corpus generators for the code detectors (rules/secrets-code.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, b64url, chars, DIGITS, digits, HEX, int, LOWER, pick, token, URLSAFE, type Family, type Rng } from '../random';

const BASE36 = DIGITS + LOWER;
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const HEX_UPPER = '0123456789ABCDEF';

const uuid = (r: Rng) => `${token(r, HEX, 8)}-${chars(r, HEX, 4)}-4${chars(r, HEX, 3)}-${pick(r, ['8', '9', 'a', 'b'])}${chars(r, HEX, 3)}-${token(r, HEX, 12)}`;

/** Random bytes as a binary string (what GitLab's routable token generator feeds to base64). */
const bytes = (r: Rng, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 256));
  return s;
};

/**
 * A GitLab routable token body: base64url(16 random bytes, the routing payload, its length byte),
 * then ".01." (format version), the payload length in base36 (2) and a base36 CRC32 (7).
 */
function routable(r: Rng, payload: string): string {
  const encoded = Buffer.from(bytes(r, 16) + payload + String.fromCharCode(payload.length), 'latin1').toString('base64url');
  return `${encoded}.01.${encoded.length.toString(36).padStart(2, '0')}${token(r, BASE36, 7)}`;
}

const routingPayload = (r: Rng, keys: string[]) => keys.map((k) => `${k}:${int(r, 1, 5_000_000).toString(36)}`).join('\n');

/** A GitLab token body: the 20-character Devise friendly token, or the newer routable form. */
const gitlabBody = (r: Rng, keys: string[], share = 0.4) => (r() < share ? routable(r, routingPayload(r, keys)) : token(r, URLSAFE, 20));

/** A JWT-shaped string: base64url JSON header and payload, a random signature. */
const jwtLike = (r: Rng, claims: Record<string, unknown>) =>
  `${b64url(JSON.stringify({ alg: 'RS256', kid: token(r, ALNUM, 8), typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}.${token(r, URLSAFE, 342)}`;

/** Contexts that name the provider next to a prefixless value: env, export, JSON, YAML, code, a sentence. */
const keyed = (upper: string, lower: string, camel: string, words: string): ((v: string) => string)[] => [
  (v) => `${upper}=${v}`,
  (v) => `export ${upper}="${v}"`,
  (v) => `{"${lower}": "${v}"}`,
  (v) => `${lower}: ${v}`,
  (v) => `const ${camel} = '${v}';`,
  (v) => `the ${words} is ${v}, rotate it after the demo`,
];

export const family: Family = {
  values: {
  'github-pat': (r) => 'ghp_' + token(r, ALNUM, 36),
  'github-oauth-token': (r) => 'gho_' + token(r, ALNUM, 36),
  'github-user-token': (r) => 'ghu_' + token(r, ALNUM, 36),
  'github-server-token': (r) =>
    r() < 0.7
      ? 'ghs_' + token(r, ALNUM, 36)
      : `ghs_${int(r, 10_000, 3_000_000)}_${jwtLike(r, { iss: 'github', sub: `installation:${digits(r, 8)}`, exp: 1_780_000_000 + int(r, 0, 1e7) })}`,
  'github-refresh-token': (r) => 'ghr_' + token(r, ALNUM, pick(r, [36, 76])),
  'github-fine-grained-pat': (r) => `github_pat_${token(r, ALNUM, 22)}_${token(r, ALNUM, 59)}`,
  'github-legacy-token': (r) => token(r, HEX, 40),
  'github-legacy-token-url': (r) => token(r, HEX, 40),
  'gitlab-pat': (r) => 'glpat-' + gitlabBody(r, ['o', 'u']),
  'gitlab-pat-legacy': (r) => token(r, URLSAFE, 20),
  'gitlab-deploy-token': (r) => 'gldt-' + gitlabBody(r, ['o', 'p'], 0.2),
  'gitlab-runner-token': (r) =>
    pick(r, ['glrt-', 'glrt-t1_', 'glrt-t2_', 'glrt-t3_', 'glrtr-']) + gitlabBody(r, ['o', 'g', 'p'], 0.3),
  'gitlab-runner-registration-token': (r) => 'GR1348941' + token(r, URLSAFE, 20),
  'gitlab-ci-job-token': (r) => `glcbt-${pick(r, ['', '64_', '65_', '66_'])}${gitlabBody(r, ['o', 'p', 'u'], 0.3)}`,
  'gitlab-pipeline-trigger-token': (r) => 'glptt-' + (r() < 0.6 ? token(r, HEX, 40) : token(r, URLSAFE, 20)),
  'gitlab-feed-token': (r) => 'glft-' + token(r, URLSAFE, 20),
  'gitlab-scim-token': (r) => 'glsoat-' + token(r, URLSAFE, 20),
  'gitlab-oauth-app-secret': (r) => 'gloas-' + token(r, HEX, 64),
  'gitlab-incoming-mail-token': (r) => 'glimt-' + token(r, BASE36, 25),
  'gitlab-agent-token': (r) => 'glagent-' + (r() < 0.7 ? token(r, URLSAFE, 50) : routable(r, routingPayload(r, ['o', 'p']))),
  'gitlab-feature-flag-client-token': (r) => 'glffct-' + token(r, URLSAFE, 20),
  'gitlab-workspace-token': (r) => 'glwt-' + token(r, URLSAFE, pick(r, [20, 32])),
  'gitlab-session-cookie': (r) => token(r, HEX, 32),
  'atlassian-api-token': (r) => `ATATT3xFfGF0${token(r, URLSAFE, int(r, 160, 190))}=${token(r, HEX_UPPER, 8)}`,
  'atlassian-api-token-legacy': (r) => token(r, ALNUM, 24),
  'bitbucket-access-token': (r) => `ATCTT3xFfGN0${token(r, URLSAFE, int(r, 160, 190))}=${token(r, HEX_UPPER, 8)}`,
  'bitbucket-app-password': (r) => 'ATBB' + token(r, ALNUM, 24) + token(r, HEX_UPPER, 8),
  'bitbucket-app-password-legacy': (r) => token(r, ALNUM, 20),
  'sourcegraph-access-token': (r) => pick(r, ['sgp_', `sgp_${token(r, HEX, 16)}_`, 'sgp_local_']) + token(r, HEX, 40),
  'linear-api-key': (r) => 'lin_api_' + token(r, ALNUM, 40),
  'linear-oauth-token': (r) => pick(r, ['lin_oauth_', 'lin_refresh_']) + token(r, HEX, 64),
  'notion-integration-token': (r) => (r() < 0.5 ? 'secret_' + token(r, ALNUM, 43) : `ntn_${digits(r, 11)}${token(r, ALNUM, 35)}`),
  'asana-pat': (r) =>
    // Asana gids: 16 digits starting with 1 (12…, 11… for older accounts).
    r() < 0.5 ? `1/1${digits(r, 15)}:${token(r, HEX, 32)}` : `2/1${digits(r, 15)}/1${digits(r, 15)}:${token(r, HEX, 32)}`,
  'airtable-pat': (r) => `pat${token(r, ALNUM, 14)}.${token(r, HEX, 64)}`,
  'postman-api-key': (r) => `PMAK-${token(r, HEX, 24)}-${token(r, HEX, 34)}`,
  'snyk-token': (r) => uuid(r),
  'sonarqube-user-token': (r) => 'squ_' + token(r, HEX, 40),
  'sonarqube-analysis-token': (r) => pick(r, ['sqp_', 'sqa_']) + token(r, HEX, 40),
  'sonar-token-legacy': (r) => token(r, HEX, 40),
  'jfrog-api-key': (r) => 'AKCp' + token(r, ALNUM, 69),
  'jfrog-reference-token': (r) => Buffer.from(`reftkn:01:${int(r, 1_700_000_000, 2_100_000_000)}:${token(r, ALNUM, 27)}`).toString('base64'),
  'circleci-personal-token': (r) => `CCIPAT_${token(r, BASE58, 22)}_${token(r, HEX, 40)}`,
  'circleci-project-token': (r) => `CCIPRJ_${token(r, BASE58, 22)}_${token(r, HEX, 40)}`,
  'circleci-token-legacy': (r) => token(r, HEX, 40),
  'buildkite-api-token': (r) => 'bkua_' + pick(r, ['', 'MTA.', 'MTE.']) + token(r, HEX, 40),
  'buildkite-agent-token': (r) =>
    pick(r, [
      () => `bkaa_MTA.${token(r, ALNUM, 80)}`,
      () => `bkar_${token(r, ALNUM, 48)}`,
      () => `bkaj_${jwtLike(r, { sub: uuid(r), aud: uuid(r), iss: 'buildkite', exp: 1_780_000_000 + int(r, 0, 1e7) })}`,
    ])(),
  'codecov-token': (r) => uuid(r),
  'travis-ci-token': (r) => token(r, URLSAFE, 22),
  'gitea-token': (r) => token(r, HEX, 40),
  'jenkins-api-token': (r) => (r() < 0.7 ? '11' + token(r, HEX, 32) : token(r, HEX, 32)),
  'figma-pat': (r) => 'figd_' + token(r, URLSAFE, 40),
  },
  contexts: {
  'github-legacy-token': [
    ...keyed('GITHUB_TOKEN', 'github_token', 'githubToken', 'github token'),
    (v) => `GH_TOKEN=${v}`,
    (v) => `github oauth token: ${v}`,
  ],
  'github-legacy-token-url': [
    (v) => `git clone https://${v}@github.com/acme/payments.git`,
    (v) => `remote is https://${v}@github.com/acme/api`,
    (v) => `curl https://${v}@api.github.com/user`,
  ],
  'gitlab-pat-legacy': [
    ...keyed('GITLAB_TOKEN', 'gitlab_token', 'gitlabToken', 'gitlab token'),
    (v) => `curl --header "PRIVATE-TOKEN: ${v}" https://gitlab.acme.io/api/v4/projects`,
    (v) => `gitlab-runner register --url https://gitlab.acme.io --registration-token ${v}`,
  ],
  'gitlab-session-cookie': [
    (v) => `curl -H "Cookie: _gitlab_session=${v}" https://gitlab.acme.io/api/v4/user`,
    (v) => `my cookie was _gitlab_session=${v}; path=/; HttpOnly`,
    (v) => `set-cookie: _gitlab_session=${v}`,
  ],
  'atlassian-api-token-legacy': [
    ...keyed('JIRA_API_TOKEN', 'jira_api_token', 'jiraToken', 'jira api token'),
    (v) => `CONFLUENCE_TOKEN=${v}`,
    (v) => `atlassian api token: ${v}`,
  ],
  'bitbucket-app-password-legacy': [
    ...keyed('BITBUCKET_APP_PASSWORD', 'bitbucket_app_password', 'bitbucketAppPassword', 'bitbucket app password'),
    (v) => `BITBUCKET_TOKEN=${v}`,
  ],
  'asana-pat': [
    ...keyed('ASANA_PAT', 'asana_token', 'asanaToken', 'asana token'),
    (v) => `asana personal access token ${v}`,
  ],
  'snyk-token': [...keyed('SNYK_TOKEN', 'snyk_token', 'snykToken', 'snyk api token'), (v) => `snyk auth token: ${v}`],
  'sonar-token-legacy': [
    ...keyed('SONAR_TOKEN', 'sonar_token', 'sonarToken', 'sonarcloud token'),
    (v) => `mvn sonar:sonar -Dsonar.login=${v}`,
    (v) => `sonar.token=${v}`,
  ],
  'circleci-token-legacy': [
    ...keyed('CIRCLECI_TOKEN', 'circleci_token', 'circleToken', 'circleci api token'),
    (v) => `CIRCLE_TOKEN=${v}`,
  ],
  'codecov-token': [...keyed('CODECOV_TOKEN', 'codecov_token', 'codecovToken', 'codecov upload token')],
  'travis-ci-token': [...keyed('TRAVIS_TOKEN', 'travis_api_token', 'travisToken', 'travis ci token')],
  'gitea-token': [
    ...keyed('GITEA_TOKEN', 'gitea_token', 'giteaToken', 'gitea access token'),
    (v) => `FORGEJO_TOKEN=${v}`,
  ],
  'jenkins-api-token': [
    ...keyed('JENKINS_API_TOKEN', 'jenkins_token', 'jenkinsToken', 'jenkins api token'),
    (v) => `jenkins user admin, token ${v}`,
    (v) => `curl -X POST https://jenkins.acme.io/job/deploy/build --user admin:${v}`,
    (v) => `java -jar jenkins-cli.jar -s https://ci.acme.io -auth deploy-bot:${v} build release`,
  ],
  },
  nearMisses: {
  'github-pat': ['ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'GITHUB_TOKEN=ghp_<your-token-here>', 'tokens start with ghp_ and are 40 chars'],
  'github-server-token': ['GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }} gives a ghs_ token', 'ghs_************************************'],
  'github-fine-grained-pat': ['github_pat_xxxxxxxxxxxxxxxxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'github-legacy-token': [
    'GITHUB_TOKEN=${GITHUB_TOKEN}',
    'github commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904 is the empty tree',
    'github token: 0000000000000000000000000000000000000000',
  ],
  'gitlab-pat': ['glpat-xxxxxxxxxxxxxxxxxxxx', 'glpat-<token>', 'GITLAB_TOKEN=glpat-${GITLAB_PAT}', 'PATs start with glpat- since 14.5'],
  'gitlab-pat-legacy': ['curl --header "PRIVATE-TOKEN: <your_access_token>" https://gitlab.acme.io/api/v4/projects', 'GITLAB_TOKEN=${CI_JOB_TOKEN}'],
  'gitlab-runner-token': ['gitlab-runner register --token glrt-<runner-token>', 'glrt-XXXXXXXXXXXXXXXXXXXX'],
  'gitlab-runner-registration-token': ['--registration-token GR1348941xxxxxxxxxxxxxxxxxxxx'],
  'gitlab-agent-token': ["Clusters::AgentToken.find_by_token('glagent-xxx').id"],
  'gitlab-session-cookie': ['_gitlab_session=<session-cookie>', 'delete the _gitlab_session cookie and log in again'],
  'atlassian-api-token': ['ATATT3xFfGF0<your-api-token>', 'Atlassian API tokens now start with ATATT3'],
  'bitbucket-app-password': ['BITBUCKET_APP_PASSWORD=ATBBxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'sourcegraph-access-token': ['SRC_ACCESS_TOKEN=sgp_<token>', 'sgp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'notion-integration-token': ['NOTION_TOKEN=ntn_your_internal_integration_token_here', 'NOTION_TOKEN=secret_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  'snyk-token': ['SNYK_TOKEN=${{ secrets.SNYK_TOKEN }}', 'snyk token: 00000000-0000-0000-0000-000000000000'],
  'buildkite-api-token': ['bkua_MTA.4f6ccde8c73e26244d73c5a77c91c242c0c818ce', 'BUILDKITE_API_TOKEN=bkua_<token>'],
  'circleci-personal-token': ['CCIPAT_ULUhR6rJLxYbyzyrP19iMZ_8fb1e3510325f7f09361de22b9420346c53ca2cb'],
  'codecov-token': ['CODECOV_TOKEN=${{ secrets.CODECOV_TOKEN }}', 'codecov report for build 1234 is ready'],
  'jenkins-api-token': ['JENKINS_API_TOKEN=<api-token>', 'jenkins build 11 passed'],
  'gitea-token': ['GITEA_TOKEN=65eaa9c8ef52460d22a93307fe0aee76289dc675', 'GITEA_TOKEN=${{ secrets.GITEA_TOKEN }}'],
  },
};
