#!/usr/bin/env node
// The `sentinel` command: the compiled CLI in dist/ when the build is current, else the TypeScript
// sources through tsx, so a checkout works without a build step (see launch.js).
import { launch } from './launch.js';

await launch('cli');
