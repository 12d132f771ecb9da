/** The workflows a remediation worker runs. */
export { incidentWorkflow, stateQuery } from './incident';
