// BEP 42: node ids tied to the node's external address, so that one host cannot pick
// where in the id space it sits. The first 21 bits of the id are the top of
// crc32c(masked address with 3 random bits r in its first byte's top); the last byte
// of the id carries r. IPv4 masks the whole address with 03 0f 3f ff; IPv6 masks only
// the /64 prefix with 01 03 07 0f 1f 3f 7f ff, since one site holds a whole /64.
#pragma once

#include "dht/base/endpoint.hpp"
#include "dht/base/random.hpp"
#include "dht/node_id.hpp"

#include <cstdint>
#include <span>

namespace ovl::dht {

// CRC-32C (Castagnoli), the checksum BEP 42 uses.
std::uint32_t crc32c(std::span<const std::uint8_t> data);

// An id for `external` that obeys BEP 42: r is `rand & 7`, the last byte is `rand`,
// and the bits BEP 42 leaves free come from `rng`.
node_id secure_node_id(const ip_address& external, std::uint8_t rand, random_source& rng);

// Whether `id` obeys BEP 42 for `address`. Addresses that are not global (private,
// loopback, link-local, ULA, CGNAT) are exempt, as BEP 42 exempts local networks.
bool obeys_bep42(const node_id& id, const ip_address& address);

} // namespace ovl::dht
