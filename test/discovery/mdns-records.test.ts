import { describe, expect, it } from 'vitest';
import {
  announcementRecords,
  asksForService,
  candidatesFromRecords,
  parseTxt,
  type MdnsAnnouncement,
} from '../../node/discovery/mdns-records.js';

const SERVICE = '_helix-mesh._udp.local';
const PEER = '12D3KooWB2LsjBevmFZ1fYZTpXhWURf7bs8kvgSTucdbEkUTijby';
const SELF = '12D3KooWSy2NGu1or3GivT2Eqn7WQ6XyFVEJmwiVZ2pfGwoX5pdN';
const ctx = { service: SERVICE, sender: '192.168.1.20', selfPeerId: SELF };

/** A peer's records as multicast-dns hands them over: dns-packet decodes TXT strings as Buffers. */
function onTheWire(self: MdnsAnnouncement, service = SERVICE): unknown[] {
  return announcementRecords(service, self).map((r) =>
    r.type === 'TXT' ? { ...r, data: r.data.map((s) => Buffer.from(s)) } : r,
  );
}

describe('mDNS records', () => {
  it.each([
    {
      what: 'a bare announcement',
      self: { peerId: PEER, address: '192.168.1.20' },
      want: [{ address: '192.168.1.20', source: 'mdns', peerId: PEER }],
    },
    {
      what: 'name and ports',
      self: {
        peerId: PEER,
        address: '192.168.1.20',
        name: 'pi-kitchen',
        clusterPort: 6222,
        rpcPort: 7443,
      },
      want: [
        {
          address: '192.168.1.20',
          source: 'mdns',
          peerId: PEER,
          name: 'pi-kitchen',
          clusterPort: 6222,
          rpcPort: 7443,
        },
      ],
    },
    {
      what: 'an address other than the sender (spoofed or stale)',
      self: { peerId: PEER, address: '192.168.1.99' },
      want: [],
    },
    {
      what: 'our own announcement looped back',
      self: { peerId: SELF, address: '192.168.1.20' },
      want: [],
    },
  ])('turns $what on the wire into candidates', ({ self, want }) => {
    expect(candidatesFromRecords(onTheWire(self), ctx)).toEqual(want);
  });

  it('ignores instances of another service', () => {
    const records = onTheWire({ peerId: PEER, address: '192.168.1.20' }, '_other._udp.local');
    expect(candidatesFromRecords(records, ctx)).toEqual([]);
  });

  const good = () => announcementRecords(SERVICE, { peerId: PEER, address: '192.168.1.20' });
  it.each([
    { what: 'not an array', records: 'nope' },
    { what: 'no SRV', records: good().filter((r) => r.type !== 'SRV') },
    { what: 'no A record', records: good().filter((r) => r.type !== 'A') },
    { what: 'a goodbye (TTL 0)', records: good().map((r) => ({ ...r, ttl: 0 })) },
    {
      what: 'a peer id that is not base58',
      records: announcementRecords(SERVICE, { peerId: 'not-a-peer-id!', address: '192.168.1.20' }),
    },
    {
      what: 'a TXT id that differs from the instance name',
      records: good().map((r) =>
        r.type === 'TXT' ? { ...r, data: ['v=1', `id=${SELF.slice(0, -1)}x`] } : r,
      ),
    },
    {
      what: 'garbage fields',
      records: [null, 7, { name: 1, type: 'PTR' }, { name: SERVICE, type: 'PTR', data: {} }],
    },
  ])('finds no candidate in $what', ({ records }) => {
    expect(candidatesFromRecords(records, ctx)).toEqual([]);
  });

  it.each([
    { sender: '0.0.0.0' },
    { sender: '224.0.0.251' },
    { sender: '255.255.255.255' },
    { sender: 'fe80::1' },
  ])('never offers $sender as a candidate address', ({ sender }) => {
    const records = announcementRecords(SERVICE, { peerId: PEER, address: sender });
    expect(candidatesFromRecords(records, { ...ctx, sender })).toEqual([]);
  });

  it.each([
    { questions: [{ name: SERVICE, type: 'PTR' }], want: true },
    { questions: [{ name: `${SERVICE.toUpperCase()}.`, type: 'ANY' }], want: true },
    { questions: [{ name: SERVICE, type: 'A' }], want: false },
    { questions: [{ name: '_p2p._udp.local', type: 'PTR' }], want: false },
    { questions: 'x', want: false },
  ])('answers a query $questions: $want', ({ questions, want }) => {
    expect(asksForService(questions, SERVICE)).toBe(want);
  });

  it('reads TXT key=value strings and buffers, first key wins', () => {
    const txt = parseTxt([Buffer.from('id=abc'), 'Name=x=y', 'id=later', 'novalue', '=v']);
    expect(Object.fromEntries(txt)).toEqual({ id: 'abc', name: 'x=y' });
  });

  it('cuts a long node name to fit one TXT string', () => {
    const records = announcementRecords(SERVICE, {
      peerId: PEER,
      address: '192.168.1.20',
      name: 'é'.repeat(200),
    });
    const txt = records.find((r) => r.type === 'TXT')?.data as string[];
    const name = txt.find((s) => s.startsWith('name='))!;
    expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
    expect(name).toBe(`name=${'é'.repeat(125)}`);
  });
});
