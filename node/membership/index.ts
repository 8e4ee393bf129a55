/** Membership: heartbeats with capability adverts, the live view of the mesh, RTT per peer. */
export {
  MembershipView,
  type AdvertOutcome,
  type MembershipTiming,
  type Transition,
  type TransitionListener,
  type TransitionReason,
} from './view.js';
export {
  AdvertCodec,
  DEFAULT_MAX_MESSAGE_BYTES,
  DROP_REASONS,
  canonicalJson,
  decodeAdvert,
  decodeBye,
  emptyDrops,
  encodeAdvert,
  encodeBye,
  type DecodeOptions,
  type Decoded,
  type DropReason,
} from './codec.js';
export {
  MembershipService,
  SUBJECT_PREFIX,
  byeSubject,
  heartbeatSubject,
  pingSubject,
  type AdvertContent,
  type ChangeListener,
  type MembershipServiceOptions,
} from './service.js';
