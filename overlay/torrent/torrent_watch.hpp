// The per-torrent and per-connection hooks the plugin installs: they tell the plugin
// which torrents the session has, and when a BitTorrent handshake completes, which is
// how a punch is known to have worked; and they let a punched incoming connection replace
// an outgoing attempt to the same peer that cannot get through. Both run on libtorrent's
// network thread.
#pragma once

#include "overlay/torrent/plugin.hpp"

#include <libtorrent/extensions.hpp>
#include <libtorrent/peer_connection_handle.hpp>

#include <memory>
#include <string>
#include <vector>

namespace ovl::torrent {

class torrent_watch final : public lt::torrent_plugin {
public:
    torrent_watch(std::weak_ptr<overlay_plugin::impl> owner, std::string rdv);
    ~torrent_watch() override;
    std::shared_ptr<lt::peer_plugin> new_connection(const lt::peer_connection_handle& pc) override;

private:
    void drop_stalled_attempts(const lt::peer_connection_handle& incoming);

    std::weak_ptr<overlay_plugin::impl> owner_;
    std::string rdv_;
    std::vector<lt::peer_connection_handle> outgoing_;
};

class peer_watch final : public lt::peer_plugin {
public:
    peer_watch(std::weak_ptr<overlay_plugin::impl> owner, lt::peer_connection_handle pc);
    bool on_handshake(lt::span<char const>) override;

private:
    std::weak_ptr<overlay_plugin::impl> owner_;
    lt::peer_connection_handle pc_;
};

} // namespace ovl::torrent
