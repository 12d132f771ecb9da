/** What workflows, activities, the detector and the CLI share: one import for all of it. */
export * from './activity-types';
export * from './failures';
export * from './ids';
export * from './search-attributes';
export * from './types';
export * from './kms';
export * from './slack-limits';
export * from './credentials';
export * from './controls';
