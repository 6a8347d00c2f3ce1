// A sharer's peer endpoint is asked only when the writer's node holds that virtual IP: a holder is
// remembered for a minute, "nobody" for 5 s; a failed lookup keeps the last answer and is not
// remembered.
import test from 'ava';
import { VipOwners } from '../../src/image/vip-owners.js';
import { SimClock } from '../../simulations/sim-clock.js';

function owners(leases: Map<string, string>) {
  const clock = new SimClock();
  const o = { asked: 0, failing: false, clock };
  const v = new VipOwners(async (vip) => {
    o.asked++;
    if (o.failing) throw new Error('control socket gone');
    return leases.get(vip);
  }, clock);
  return Object.assign(o, { v });
}

test('holds: the lease holder only; a holder remembered for a minute, nobody for 5 s', async (t) => {
  const leases = new Map([['10.128.0.5', 'aa'], ['10.128.0.6', 'bb']]);
  const o = owners(leases);
  t.is(o.v.remembered('aa', '10.128.0.5'), undefined, 'nothing asked yet');
  t.true(await o.v.holds('aa', '10.128.0.5'));
  t.false(await o.v.holds('aa', '10.128.0.6'), "another node's address");
  t.false(await o.v.holds('aa', '10.128.0.7'), 'an address nobody holds');
  t.is(o.asked, 3);
  t.true(await o.v.holds('aa', '10.128.0.5'));
  t.is(o.asked, 3, 'remembered');
  t.true(o.v.remembered('aa', '10.128.0.5'));
  t.false(o.v.remembered('cc', '10.128.0.6'));
  leases.set('10.128.0.7', 'aa');
  await o.clock.runUntil(6_000);
  t.is(o.v.remembered('aa', '10.128.0.7'), undefined, '"nobody" forgotten after 5 s');
  t.true(await o.v.holds('aa', '10.128.0.7'), 'the lease taken since');
  leases.set('10.128.0.5', 'cc');
  await o.clock.runUntil(61_000);
  t.false(await o.v.holds('aa', '10.128.0.5'), 'asked again after a minute: the lease moved');
});

test('a failed lookup keeps the last answer (none: false) and is asked again next time', async (t) => {
  const leases = new Map([['10.128.0.5', 'aa']]);
  const o = owners(leases);
  t.true(await o.v.holds('aa', '10.128.0.5'));
  await o.clock.runUntil(61_000);
  o.failing = true;
  t.true(await o.v.holds('aa', '10.128.0.5'), 'a known-good peer is not dropped by a failed lookup');
  t.false(await o.v.holds('bb', '10.128.0.9'), 'never answered: false');
  const asked = o.asked;
  o.failing = false;
  leases.set('10.128.0.9', 'bb');
  t.true(await o.v.holds('bb', '10.128.0.9'), 'the failure was not remembered');
  t.is(o.asked, asked + 1);
});
