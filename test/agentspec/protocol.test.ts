import { describe, expect, it } from 'vitest';
import { parseAgentLine } from '../../node/agentspec/index.js';

describe('parsing agent lines', () => {
  it.each([
    ['{"v":1,"type":"ready"}', { type: 'ready' }],
    [
      '{"v":1,"type":"progress","id":"t","message":"half","percent":50}',
      { type: 'progress', percent: 50 },
    ],
    [
      '{"v":1,"type":"result","id":"t","text":"Done.","data":{"n":1}}',
      { type: 'result', text: 'Done.', data: { n: 1 } },
    ],
    [
      '{"v":1,"type":"error","id":"t","message":"No.","code":"unknown_room"}',
      { type: 'error', code: 'unknown_room' },
    ],
    [
      '{"v":1,"type":"call","id":"t","call_id":"c1","method":"notify","params":{"text":"hi"}}',
      { type: 'call', method: 'notify' },
    ],
    ['{"v":1,"type":"call","call_id":"c2","method":"notify"}', { type: 'call', params: {} }],
  ])('accepts %s', (line, expected) => {
    const parsed = parseAgentLine(line);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.message).toMatchObject(expected);
  });

  it.each([
    ['{"v":1,"type":"result","id":"t","text":', /^not valid JSON: /],
    ['[1,2]', /^not a JSON object/],
    ['{"v":1,"type":"teleport"}', /^unknown message type "teleport"/],
    ['{"v":1}', /^unknown message type null/],
    ['{"v":2,"type":"ready"}', /^protocol version 2 is not supported \(this host speaks v1\)/],
    ['{"type":"ready"}', /^protocol version null is not supported/],
    ['{"v":1,"type":"result","id":"t"}', /^invalid "result" message: text: /],
    [
      '{"v":1,"type":"progress","id":"t","message":"x","percent":150}',
      /^invalid "progress" message: percent: /,
    ],
    [
      '{"v":1,"type":"error","id":"t","message":"x","code":"Not A Code"}',
      /^invalid "error" message: code: /,
    ],
  ])('refuses %s, saying why', (line, reason) => {
    const parsed = parseAgentLine(line);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });
});
