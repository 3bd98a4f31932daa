// The DHT id of an overlay peer is derived from its public key, so anyone who knows a
// peer id can look up the DHT neighbourhood where that peer's introducers live.
#pragma once

#include "dht/node_id.hpp"
#include "overlay/identity.hpp"

namespace ovl::overlay {

dht::node_id dht_id_for(const public_key& key);

} // namespace ovl::overlay
