/**
 * What the activities count, in prom-client's default registry: the worker's /metrics serves it
 * (src/ops/health.ts merges it with the process's own). Counting costs a map lookup per call.
 */
import { Counter, register } from 'prom-client';

/** Metrics are registered once per process, even when this module is loaded twice (tests, bundles). */
function counter(name: string, help: string, labelNames: string[]): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames });
}

export const activityMetrics = {
  slackCalls: counter('sentinel_slack_calls_total', 'Slack Web API calls by method and outcome: ok, rate_limited (429), error (Slack said ok:false), http_error, network_error, over_budget (held back by our own budget).', ['method', 'outcome']),
  kmsCalls: counter('sentinel_kms_calls_total', 'KMS revocations by outcome: revoked, already_revoked, failed.', ['outcome']),
  steps: counter('sentinel_remediation_steps_total', 'Remediation step outcomes recorded on incidents’ audit trails, by step and outcome.', ['step', 'outcome']),
  credentials: counter('sentinel_credential_checks_total', 'Leaked-credential verifications and revocations, by provider kind, operation and outcome.', ['kind', 'operation', 'outcome']),
};
