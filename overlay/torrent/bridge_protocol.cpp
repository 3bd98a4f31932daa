#include "overlay/torrent/bridge_protocol.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace ovl::torrent {

namespace {
constexpr std::string_view magic = "ovlb";
constexpr std::uint8_t version = 1;
constexpr std::string_view bridge_domain = "ovl-torrent-bridge-key";
} // namespace

overlay::identity bridge_identity(const overlay::identity& plugin) {
    // ed25519 signatures are deterministic and only the key holder can make them: the
    // signature over a fixed label is a secret that only this identity can derive. It is
    // never sent anywhere.
    const auto label = std::span(reinterpret_cast<const std::uint8_t*>(bridge_domain.data()), bridge_domain.size());
    const auto sig = plugin.sign(label);
    std::array<std::uint8_t, 32> seed{};
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, seed.size());
    crypto_generichash_update(&st, label.data(), label.size());
    crypto_generichash_update(&st, sig.data(), sig.size());
    crypto_generichash_final(&st, seed.data(), seed.size());
    return overlay::identity::from_seed(seed);
}

const char* to_string(bridge_path p) { return p == bridge_path::direct_udp ? "direct-udp" : "relayed"; }

bytes encode_preamble(const bridge_preamble& p) {
    bytes out(magic.begin(), magic.end());
    out.push_back(version);
    out.push_back(static_cast<std::uint8_t>(p.path));
    out.insert(out.end(), p.peer.begin(), p.peer.end());
    auto rdv = p.rdv;
    rdv.resize(20);
    out.insert(out.end(), rdv.begin(), rdv.end());
    return out;
}

std::optional<bridge_preamble> decode_preamble(bytes_view data) {
    if (data.size() != bridge_preamble_size || !std::equal(magic.begin(), magic.end(), data.begin()) ||
        data[4] != version)
        return std::nullopt;
    bridge_preamble p;
    if (data[5] != static_cast<std::uint8_t>(bridge_path::direct_udp) &&
        data[5] != static_cast<std::uint8_t>(bridge_path::relayed))
        return std::nullopt;
    p.path = static_cast<bridge_path>(data[5]);
    std::copy_n(data.begin() + 6, 32, p.peer.begin());
    p.rdv.assign(data.begin() + 38, data.end());
    return p;
}

} // namespace ovl::torrent
