#!/usr/bin/env node
// `npm run <component>`: `node bin/run.js <component> [args…]` runs that entry point from dist/ when
// the build is current, else from the TypeScript sources with tsx (see launch.js).
import { launch } from './launch.js';

// The component sees its own arguments at process.argv[2…], as if it had been started directly.
const [name] = process.argv.splice(2, 1);
await launch(name ?? '');
