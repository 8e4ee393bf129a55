/**
 * Discovery's public face: candidate peers from pluggable sources (Tailscale, mDNS, static config,
 * adverts, invites, or a DiscoverySource of your own).
 */
export type { TailnetState, DiscoveryEvents } from './types.js';
export {
  Discovery,
  type DiscoveryOptions,
  type CandidateListener,
  type ExtraSource,
  mergeCandidates,
} from './discovery.js';
export {
  ChangeListeners,
  ListSource,
  type DiscoverySource,
  type FoundPeer,
  type SourceContext,
} from './source.js';
export { builtInSources, type SourceDeps } from './sources.js';
export { TailscaleSource, TAILSCALE_RANK } from './tailscale-source.js';
export { MdnsSource, MDNS_RANK, type MdnsSourceOptions } from './mdns-source.js';
export { staticSource, STATIC_RANK } from './static-source.js';
export { advertSource, inviteSource, ADVERT_RANK, INVITE_RANK } from './learned-source.js';
export {
  resolveMeshAddress,
  firstLanIPv4,
  interfaceAddresses,
  parseHostPort,
  type InterfaceTable,
} from './addresses.js';
export {
  parseTailscaleStatus,
  parseTailscaleWhois,
  parseTailscaleIp4,
  tailnetMachineName,
  TailscaleStatusSchema,
  TailscalePeerStatusSchema,
  TailscaleUserProfileSchema,
  TailscaleWhoisSchema,
  TailscaleNodeSchema,
  BACKEND_STATES,
  type TailscaleClient,
  type TailscaleWhois,
  type TailscaleStatus,
  type TailscalePeerStatus,
  type TailscaleUserProfile,
  type ParsedTailscaleStatus,
} from './tailscale.js';
export {
  TailscaleCli,
  TailscaleCommandError,
  TAILSCALE_INSTALL_HINT,
  type TailscaleCliOptions,
} from './tailscale-cli.js';
export {
  startMdns,
  pickIPv4,
  HELIX_MDNS_SERVICE,
  type MdnsOptions,
  type MdnsHandle,
  type MdnsCandidate,
} from './mdns.js';
