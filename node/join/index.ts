/**
 * join: how a node obtains the mesh secret. Members run JoinService (Mesh.Join + Mesh.Ping on the
 * RpcServer); a new node calls requestJoin; `helix-node invite` calls createInvite.
 */
export {
  JoinService,
  JoinRefusedError,
  peerIp,
  type JoinServiceOptions,
  type JoinMember,
  type TailnetIdentity,
  type AdmittedNode,
} from './service.js';
export {
  requestJoin,
  type RequestJoinOptions,
  type JoinCandidate,
  type JoinResult,
} from './request.js';
export {
  createInvite,
  consumeInvite,
  listOpenInvites,
  invitesFile,
  type CreateInviteOptions,
  type CreatedInvite,
  type InviteClaim,
  type InviteRecord,
} from './invites.js';
export { parseInviteCode, formatInviteCode, INVITE_PREFIX, type InviteCode } from './code.js';
