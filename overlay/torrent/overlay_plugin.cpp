// overlay_plugin: libtorrent's entry points, each handed to the implementation with the
// current time. libtorrent calls all of them on its network thread.
#include "overlay/torrent/plugin.hpp"

#include "overlay/torrent/plugin_impl.hpp"
#include "overlay/torrent/torrent_watch.hpp"

namespace ovl::torrent {

namespace {
timestamp now() { return timestamp_from_steady(std::chrono::steady_clock::now()); }

overlay::identity load_identity(const std::string& key_file) {
    if (!key_file.empty()) return overlay::identity::load_or_create(key_file);
    auto rng = random_source::from_os();
    return overlay::identity::generate(rng);
}
} // namespace

const char* to_string(path_state s) {
    switch (s) {
    case path_state::punching: return "punching";
    case path_state::direct_utp: return "direct-utp";
    case path_state::direct_tcp: return "direct-tcp";
    case path_state::bridging: return "bridging";
    case path_state::relayed: return "relayed";
    case path_state::direct_udp: return "direct-udp";
    case path_state::failed: return "failed";
    }
    return "failed";
}

const char* to_string(plugin_event::kind k) {
    switch (k) {
    case plugin_event::kind::registered: return "registered";
    case plugin_event::kind::introduction_requested: return "introduction-requested";
    case plugin_event::kind::introduction_received: return "introduction-received";
    case plugin_event::kind::punch_succeeded: return "punch-succeeded";
    case plugin_event::kind::punch_failed: return "punch-failed";
    }
    return "registered";
}

overlay_plugin::overlay_plugin(plugin_settings settings) {
    auto id = load_identity(settings.key_file);
    impl_ = std::make_shared<impl>(std::move(settings), std::move(id));
}

overlay_plugin::~overlay_plugin() = default;

std::string overlay_plugin::peer_id() const { return impl_->self_id; }

std::vector<peer_path> overlay_plugin::paths() const { return impl_->paths(); }

lt::plugin::feature_flags_t overlay_plugin::implemented_features() {
    return dht_request_feature | alert_feature | tick_feature;
}

std::shared_ptr<lt::torrent_plugin> overlay_plugin::new_torrent(const lt::torrent_handle& h, lt::client_data_t) {
    return std::make_shared<torrent_watch>(impl_, impl_->add_torrent(h));
}

void overlay_plugin::added(const lt::session_handle& s) { impl_->attach(s); }

void overlay_plugin::abort() { impl_->stop(); }

bool overlay_plugin::on_dht_request(lt::string_view query, const lt::udp::endpoint& source, const lt::bdecode_node& message,
                                    lt::entry& response) {
    return impl_->on_request(now(), query, source, message, response);
}

void overlay_plugin::on_alert(const lt::alert* a) { impl_->on_alert(now(), *a); }

void overlay_plugin::on_tick() { impl_->tick(now()); }

} // namespace ovl::torrent
