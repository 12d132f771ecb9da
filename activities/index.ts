/** Every activity, built from the clients the worker hands in (tests hand in their own). */
import { createSlackActivities, type SlackClients } from './slack';

export interface ActivityDeps {
  slack: SlackClients;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createSlackActivities(deps.slack),
  };
}

export type Activities = ReturnType<typeof createActivities>;
