/** Corpus generators for the monitoring detectors (rules/secrets-monitoring.yaml): fresh values of each format, how chat leaks them, near misses. */
import { HEX, token, type Family } from '../random';

export const family: Family = {
  values: {
  'datadog-api-key': (r) => token(r, HEX, 32),
  },
  contexts: {
  'datadog-api-key': [(v) => `DD_API_KEY=${v}`, (v) => `datadog api key: ${v}`],
  },
  nearMisses: {

  },
};
