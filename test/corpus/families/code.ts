/** Corpus generators for the code detectors (rules/secrets-code.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, HEX, token, URLSAFE, type Family } from '../random';

export const family: Family = {
  values: {
  'github-pat': (r) => 'ghp_' + token(r, ALNUM, 36),
  'github-oauth-token': (r) => 'gho_' + token(r, ALNUM, 36),
  'github-user-token': (r) => 'ghu_' + token(r, ALNUM, 36),
  'github-server-token': (r) => 'ghs_' + token(r, ALNUM, 36),
  'github-refresh-token': (r) => 'ghr_' + token(r, ALNUM, 36),
  'github-fine-grained-pat': (r) => `github_pat_${token(r, ALNUM, 22)}_${token(r, ALNUM, 59)}`,
  'gitlab-pat': (r) => 'glpat-' + token(r, URLSAFE, 20),
  'gitlab-pipeline-trigger-token': (r) => 'glptt-' + token(r, HEX, 40),
  'gitlab-runner-token': (r) => 'glrt-' + token(r, URLSAFE, 20),
  'linear-api-key': (r) => 'lin_api_' + token(r, ALNUM, 40),
  'atlassian-api-token': (r) => 'ATATT3' + token(r, URLSAFE, 186),
  },
  contexts: {

  },
  nearMisses: {
  'github-pat': ['ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'GITHUB_TOKEN=ghp_<your-token-here>', 'tokens start with ghp_ and are 40 chars'],
  'gitlab-pat': ['glpat-xxxxxxxxxxxxxxxxxxxx', 'glpat-<token>'],
  },
};
