// Loaded by path (DataConverter.failureConverterPath) both inside the workflow sandbox and by
// workers and clients, hence plain CommonJS. Moving failure messages and stack traces into an
// encoded attribute puts them behind the payload codec: an error that quotes its input must not
// leave that input readable in a history.
'use strict';
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
