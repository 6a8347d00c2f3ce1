// A sharer's peer endpoint is asked only when the writer's node holds that virtual IP: answers
// are remembered for a minute, failed lookups are not.
import test from 'ava';
import { VipOwners } from '../../src/image/vip-owners.js';
import { SimClock } from '../../simulations/sim-clock.js';

test('holds: the lease holder only; answers kept for a minute; a failed lookup is false and asked again', async (t) => {
  const clock = new SimClock();
  const leases = new Map([['10.128.0.5', 'aa'], ['10.128.0.6', 'bb']]);
  let asked = 0;
  let failing = false;
  const owners = new VipOwners(async (vip) => {
    asked++;
    if (failing) throw new Error('control socket gone');
    return leases.get(vip);
  }, clock);
  t.true(await owners.holds('aa', '10.128.0.5'));
  t.false(await owners.holds('aa', '10.128.0.6'), "another node's address");
  t.false(await owners.holds('aa', '10.128.0.7'), 'an address nobody holds');
  t.is(asked, 3);
  t.true(await owners.holds('aa', '10.128.0.5'));
  t.is(asked, 3, 'remembered');
  leases.set('10.128.0.5', 'cc');
  await clock.runUntil(61_000);
  t.false(await owners.holds('aa', '10.128.0.5'), 'asked again after a minute: the lease moved');
  failing = true;
  t.false(await owners.holds('bb', '10.128.0.9'));
  failing = false;
  leases.set('10.128.0.9', 'bb');
  t.true(await owners.holds('bb', '10.128.0.9'), 'the failure was not remembered');
});
