// The one error shape: every layer's error carries a code, and its name is its class name.
import test from 'ava';
import { CodedError } from '../../lib/coded-error.js';
import { WireError } from '../../overlay/wire/wire-error.js';
import { DhtConflictError, DhtError } from '../../overlay/api.js';
import { TftpDecodeError } from '../../dhcp/tftp/tftp-packet.js';
import { ControlClientError } from '../../src/control/client.js';
import { CliError } from '../../src/commands/command.js';

test('name is the class name, code and message are kept, the cause is chained', (t) => {
  const cause = new Error('inner');
  const e = new WireError('truncated', 'frame cut short', { cause });
  t.true(e instanceof CodedError && e instanceof Error);
  t.is(e.name, 'WireError');
  t.is(e.code, 'truncated');
  t.is(e.message, 'frame cut short');
  t.is(e.cause, cause);
  t.is(String(e), 'WireError: frame cut short');
});

test('subclasses: a DHT conflict is a DhtError with code conflict; codes of other layers', (t) => {
  const c = new DhtConflictError('held by another owner');
  t.true(c instanceof DhtError);
  t.is(c.name, 'DhtConflictError');
  t.is(c.code, 'conflict');
  t.is(new TftpDecodeError('UNKNOWN_MODE', "unknown mode 'mail'").code, 'UNKNOWN_MODE');
  t.is(new ControlClientError('timeout', 'no answer').code, 'timeout');
  t.is(new CliError('bad flag').code, 'usage');
  t.is(new CliError('it failed', 1).code, 'failed');
});
