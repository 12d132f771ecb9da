/** The workflows a remediation worker runs. */
export { incidentWorkflow } from './incident';
export { offenderWorkflow } from './offender';
