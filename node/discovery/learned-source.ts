/**
 * Peers this node learns outside discovery, fed by the daemon through
 * `Discovery.setExtraCandidates`: adverts on the bus (symmetric: every member hears every other,
 * so only the lower address is dialled) and the members named in an invite answer (one-sided
 * knowledge: always dialled). Both carry the peers' own ports, so they rank above the tailnet.
 */
import { ListSource } from './source.js';

export const ADVERT_RANK = 1;
export const INVITE_RANK = 2;

export function advertSource(): ListSource {
  return new ListSource('advert', ADVERT_RANK, 'lower-address');
}

export function inviteSource(): ListSource {
  return new ListSource('invite', INVITE_RANK, 'always');
}
