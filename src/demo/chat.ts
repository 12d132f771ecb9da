/** The demo's burst of chat: an ordinary morning in a workspace, with a few leaks in it (three of them Alice's). */
import { defaultSeed } from '../slack-sim/workspace';

const lines: [user: string, channel: string, text: string][] = [
  ['U0ALICE01', 'C0GENERAL', 'Morning all! Standup moves to 9:45 today'],
  ['U0BOB0001', 'C0ENGINEE', 'PR #482 is ready for review, mostly test fixes'],
  ['U0ALICE01', 'C0ENGINEE', 'Q3 revenue forecast attached, confidential, do not forward'],
  ['U0CAROL01', 'C0GENERAL', 'Lunch order closes at 11:30, tacos again'],
  ['U0BOB0001', 'C0ENGINEE', 'staging db password is Winter2026! if anyone needs it'],
  ['U0ALICE01', 'C0GENERAL', "I'm confident we hit the launch date"],
  ['U0BOB0001', 'C0PARTNER', 'refund goes to the card on file, 4539 1488 0343 6467'],
  ['U0CAROL01', 'C0ENGINEE', 'The tokenizer benchmarks are in the wiki'],
  ['U0ALICE01', 'C0ENGINEE', 'new deploy token for CI: glpat-7f3kQm2xWv9LpR4tZs1N'],
  ['U0CAROL01', 'C0GENERAL', 'Reminder: security training due Friday'],
  ['U0ALICE01', 'C0ENGINEE', 'npm publish token, expires Friday: npm_4xQ7bK9mP2sL8vN3wR6tY1uZ5cE0dF7gH2jK'],
  ['U0CAROL01', 'C0ENGINEE', 'prod creds for the migration: AKIAQ3EGT5KMPL7RZW2N'],
  ['U0BOB0001', 'C0GENERAL', 'who has the secret santa list?'],
  // Alice's third credential within minutes: besides its own incident, secret-burst (rules/stateful.yaml) opens one for the burst.
  ['U0ALICE01', 'C0ENGINEE', 'and the grafana admin password is Pl4typ0s-Orbit-77'],
  ['U0ALICE01', 'C0PARTNER', 'Thanks for the call, notes to follow'],
];

const name = (id: string, list: { id: string; name: string }[]) => list.find((x) => x.id === id)?.name ?? id;

export const burst = lines.map(([user, channel, text]) => ({
  user,
  channel,
  text,
  userName: name(user, defaultSeed.users),
  channelName: name(channel, defaultSeed.channels),
}));
