/**
 * join: how a node obtains the mesh secret. Members run JoinService (Mesh.Join + Mesh.Ping on the
 * RpcServer); a new node calls bootstrapMesh (which uses requestJoin for an invite, and
 * settles who creates the mesh when fresh nodes start together); `helix-node invite` calls
 * createInvite.
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
export { memberProof, verifyMember, MemberGate, type VerifiedMember } from './member.js';
export { bootstrapMesh, type BootstrapMeshOptions, type MeshBootstrap } from './bootstrap.js';
export { ensureMesh, type EnsureMeshOptions, type EnsuredMesh } from './ensure-mesh.js';
export {
  BootstrapEndpoint,
  BOOTSTRAP_HEADERS,
  announcementMetadata,
  announcementOf,
  readAnnouncement,
  isJoinProbe,
  memberProbeAnswer,
  probedMemberOf,
  type BootstrapEndpointOptions,
} from './bootstrap-endpoint.js';
export {
  BootstrapView,
  DEFAULT_BOOTSTRAP_TIMINGS,
  compareNodes,
  type BootstrapAnnouncement,
  type BootstrapPeer,
  type BootstrapPhase,
  type BootstrapTimings,
  type BootstrapDecision,
} from './bootstrap-view.js';
