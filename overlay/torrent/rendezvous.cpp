#include "overlay/torrent/rendezvous.hpp"

#include <sodium.h>

#include <string_view>

namespace ovl::torrent {

namespace {
// Domain-separated BLAKE2b, so the two derived values are unrelated to each other and to
// anything else computed from the info-hash.
template <std::size_t N>
std::array<std::uint8_t, N> derive(std::string_view domain, std::span<const std::uint8_t> info_hash) {
    std::array<std::uint8_t, N> out{};
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, N);
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
    crypto_generichash_update(&st, info_hash.data(), info_hash.size());
    crypto_generichash_final(&st, out.data(), N);
    return out;
}
} // namespace

rendezvous rendezvous_for(std::span<const std::uint8_t> info_hash) {
    const auto hash = derive<20>("ovl-rendezvous-hash", info_hash);
    return rendezvous{std::string(hash.begin(), hash.end()),
                      overlay::identity::from_seed(derive<32>("ovl-rendezvous-key", info_hash))};
}

std::string slot_salt(int slot) { return "ovl-rdv-" + std::to_string(slot); }

int slot_of(const overlay::public_key& peer) { return peer[0] % rendezvous_slots; }

bencode::value encode_slot(const slot_entry& entry) {
    bencode::dict d{{"k", std::string(entry.peer.begin(), entry.peer.end())}};
    if (entry.bridge) d.emplace("b", std::string(entry.bridge->begin(), entry.bridge->end()));
    if (!entry.nat.empty()) d.emplace("n", entry.nat);
    return bencode::value(std::move(d));
}

std::optional<slot_entry> decode_slot(const bencode::value& v) {
    const auto* d = v.as_dict();
    if (!d) return std::nullopt;
    const auto* k = bencode::find_string(*d, "k");
    auto peer = k ? overlay::public_key_from_bytes(*k) : std::nullopt;
    if (!peer) return std::nullopt;
    slot_entry entry{*peer, std::nullopt, {}};
    if (const auto* b = bencode::find_string(*d, "b")) entry.bridge = overlay::public_key_from_bytes(*b);
    if (const auto* n = bencode::find_string(*d, "n")) entry.nat = n->substr(0, 32);
    return entry;
}

} // namespace ovl::torrent
