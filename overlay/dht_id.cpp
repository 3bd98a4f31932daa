#include "overlay/dht_id.hpp"

#include <sodium.h>

namespace ovl::overlay {

dht::node_id dht_id_for(const public_key& key) {
    std::array<std::uint8_t, dht::node_id::size> out;
    static constexpr char domain[] = "ovl-dht-id";
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, out.size());
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(domain), sizeof domain - 1);
    crypto_generichash_update(&st, key.data(), key.size());
    crypto_generichash_final(&st, out.data(), out.size());
    return dht::node_id(out);
}

} // namespace ovl::overlay
