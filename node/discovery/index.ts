/** Discovery's public face: candidate peers from Tailscale, mDNS, static config and adverts. */
export type { TailnetState, DiscoveryEvents } from './types.js';
export {
  Discovery,
  type DiscoveryOptions,
  type CandidateListener,
  type ExtraSource,
} from './discovery.js';
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
