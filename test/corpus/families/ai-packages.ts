/** Corpus generators for the ai-packages detectors (rules/secrets-ai-packages.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ALNUM, int, pick, token, URLSAFE, type Family } from '../random';

export const family: Family = {
  values: {
  'npm-access-token': (r) => 'npm_' + token(r, ALNUM, 36),
  'pypi-upload-token': (r) => 'pypi-AgEIcHlwaS5vcmc' + token(r, URLSAFE, int(r, 60, 120)),
  'openai-api-key': (r) => (r() < 0.5 ? `sk-proj-${token(r, URLSAFE, int(r, 60, 120))}` : `sk-${token(r, ALNUM, 20)}T3BlbkFJ${token(r, ALNUM, 20)}`),
  'anthropic-api-key': (r) => `sk-ant-api03-${token(r, URLSAFE, 93)}AA`,
  'vault-token': (r) => 'hvs.' + token(r, URLSAFE, int(r, 90, 120)),
  'doppler-token': (r) => `dp.${pick(r, ['pt', 'st', 'sa', 'ct'])}.${token(r, ALNUM, 43)}`,
  },
  contexts: {

  },
  nearMisses: {
  'openai-api-key': ['OPENAI_API_KEY=sk-...', 'sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'],
  },
};
