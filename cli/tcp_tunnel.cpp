#include "cli/tcp_tunnel.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

namespace ovl::cli {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
// Bounds against a peer that sends or receives nothing useful.
constexpr std::size_t max_connections = 256;
// Framed bytes a connection holds in user space when the kernel's send buffer is full;
// frames beyond are dropped. Frames go straight into the kernel's buffer (which TCP's
// autotuning sizes to the path) as they are queued, so this fills only when the TCP path
// itself cannot keep up.
constexpr std::size_t max_queued_bytes = 256 * 1024;
// Frames queued by send() and not yet taken by the tunnel's thread (all connections).
constexpr std::size_t max_outbox_bytes = 4 << 20;
// Queued bytes that are written at once, in the middle of a batch of frames.
constexpr std::size_t write_size = 64 * 1024;
// Bytes read with one system call.
constexpr std::size_t read_size = 64 * 1024;
constexpr auto connect_timeout = std::chrono::seconds(3);
// A connection that carries nothing for this long is closed, so idle ones cannot hold
// all the slots (clients keep theirs busy with registration keepalives every 20 s).
constexpr auto idle_timeout = std::chrono::seconds(90);

// Punching binds a second socket to the port of an open connection (its NAT mapping is
// the one the introducer saw), which the kernel allows only if both sockets say so.
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
// Between attempts of a simultaneous open whose connect failed at once (a reset).
constexpr auto punch_retry = std::chrono::milliseconds(250);

void open_shareable(tcp::socket& s, bool v4, std::uint16_t port, boost::system::error_code& ec) {
    const auto protocol = v4 ? tcp::v4() : tcp::v6();
    s.open(protocol, ec);
    if (!ec && !v4) s.set_option(asio::ip::v6_only(true), ec);
    if (!ec) s.set_option(tcp::socket::reuse_address(true), ec);
    if (!ec) s.set_option(reuse_port(true), ec);
    if (!ec) s.bind(tcp::endpoint(protocol, port), ec);
}

tcp::endpoint to_asio(const endpoint& ep) { return {asio::ip::make_address(ep.address.to_string()), ep.port}; }
endpoint from_asio(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped()) a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return endpoint{*ip_address::parse(a.to_string()), ep.port()};
}
} // namespace

struct tcp_tunnel::impl : std::enable_shared_from_this<tcp_tunnel::impl> {
    // Sending is shared: the threads that call send() append frames and write them to an
    // open connection themselves (under `lock`), so a bulk stream's packets reach the kernel
    // without waking the tunnel's thread; that thread dials, reads, and takes over writing
    // only while the kernel's buffer is full. Receiving is the tunnel thread's alone.
    struct connection {
        explicit connection(asio::io_context& io) : socket(io), timer(io) {}
        tcp::socket socket;
        asio::steady_timer timer;
        std::mutex lock;
        // Framed bytes the kernel has not taken yet; those before `written` went out.
        std::vector<std::uint8_t> queued;
        std::size_t written = 0;
        // Connected and not closed: the descriptor may be written (under `lock`). Read
        // without the lock only by the tunnel's thread, which is the only one to set it.
        std::atomic<bool> open = false;
        int fd = -1;
        bool waiting = false; // for the kernel's buffer to take more (the tunnel thread waits)
        // Room for one read after the longest partial frame (2 + 65,535 bytes).
        std::vector<std::uint8_t> received = std::vector<std::uint8_t>(read_size + 2 + 0xffff);
        std::size_t filled = 0;    // bytes of `received` read and not yet delivered

        std::size_t backlog() const { return queued.size() - written; }
    };

    // A frame that send() left to the tunnel's thread (no open connection to write to).
    using outgoing = tcp_tunnel::frame;

    impl(deliver_fn d, logger_ptr l) : deliver(std::move(d)), log(std::move(l)), work(asio::make_work_guard(io)) {}

    void start() {
        thread = std::thread([self = shared_from_this()] { self->io.run(); });
    }

    void stop() {
        work.reset();
        io.stop();
        if (thread.joinable()) thread.join();
    }

    void accept() {
        acceptor->async_accept([self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                ++self->accepted;
                boost::system::error_code e2;
                const auto remote = s.remote_endpoint(e2);
                if (!e2 && self->conns.size() < max_connections) {
                    auto c = std::make_shared<connection>(self->io);
                    c->socket = std::move(s);
                    const auto ep = from_asio(remote);
                    self->add(ep, c);
                    self->start(ep, c);
                }
            }
            self->accept();
        });
    }

    void add(const endpoint& ep, const std::shared_ptr<connection>& c) {
        std::lock_guard lock(mutex);
        conns[ep] = c;
    }

    void remove(const endpoint& ep, const std::shared_ptr<connection>& c) {
        {
            std::lock_guard lock(mutex);
            auto it = conns.find(ep);
            if (it != conns.end() && it->second == c) conns.erase(it);
        }
        // Under the connection's lock, so no other thread writes to a descriptor number
        // that the kernel may give to the next socket.
        std::lock_guard lock(c->lock);
        c->open = false;
        c->fd = -1;
        boost::system::error_code ignored;
        c->socket.close(ignored);
        c->timer.cancel();
    }

    void arm_idle(const endpoint& ep, const std::shared_ptr<connection>& c) {
        c->timer.expires_after(idle_timeout);
        c->timer.async_wait([self = shared_from_this(), ep, c](const boost::system::error_code& ec) {
            if (!ec) self->remove(ep, c);
        });
    }

    // Starts reading an open connection. Frames are written at once, not held back for
    // more (Nagle): each one is a datagram somebody waits for, and bulk writes batch anyway.
    // Writes never block a thread: what the kernel cannot take waits in `queued`. Ends by
    // writing what was queued while connecting.
    void start(const endpoint& ep, const std::shared_ptr<connection>& c) {
        boost::system::error_code ignored;
        c->socket.set_option(tcp::no_delay(true), ignored);
        c->socket.non_blocking(true, ignored);
        arm_idle(ep, c);
        read(ep, c);
        std::lock_guard lock(c->lock);
        c->fd = c->socket.native_handle();
        c->open = true;
        write_locked(ep, c);
    }

    void read(const endpoint& ep, const std::shared_ptr<connection>& c) {
        c->socket.async_read_some(
            asio::buffer(c->received.data() + c->filled, c->received.size() - c->filled),
            [self = shared_from_this(), ep, c](const boost::system::error_code& ec, std::size_t n) {
                if (ec) return self->remove(ep, c);
                c->filled += n;
                std::vector<bytes> frames;
                std::size_t at = 0;
                while (c->filled - at >= 2) {
                    const auto* p = c->received.data() + at;
                    const std::size_t len = (std::size_t{p[0]} << 8) | p[1];
                    if (c->filled - at < 2 + len) break;
                    frames.emplace_back(p + 2, p + 2 + len);
                    at += 2 + len;
                }
                // The partial frame left moves to the front (it is shorter than one frame).
                std::copy(c->received.begin() + static_cast<std::ptrdiff_t>(at),
                          c->received.begin() + static_cast<std::ptrdiff_t>(c->filled), c->received.begin());
                c->filled -= at;
                self->arm_idle(ep, c);
                if (!frames.empty()) self->deliver(ep, std::move(frames));
                self->read(ep, c);
            });
    }

    // Frames send() could not write itself (no open connection yet): dials where asked.
    void take_outbox() {
        {
            std::lock_guard lock(outbox_mutex);
            taking.swap(outbox);
            outbox_bytes = 0;
        }
        for (auto& o : taking) {
            auto c = find(o.to);
            if (!c && o.dial) c = dial(o.to);
            if (!c) continue;
            std::lock_guard lock(c->lock);
            append_locked(o.to, c, o.payload);
            write_locked(o.to, c);
        }
        taking.clear();
    }

    std::shared_ptr<connection> find(const endpoint& to) {
        std::lock_guard lock(mutex);
        auto it = conns.find(to);
        return it == conns.end() ? nullptr : it->second;
    }

    std::shared_ptr<connection> dial(const endpoint& to) {
        if (conns.size() >= max_connections) return nullptr;
        auto c = std::make_shared<connection>(io);
        add(to, c);
        c->timer.expires_after(connect_timeout);
        c->timer.async_wait([self = shared_from_this(), to, c](const boost::system::error_code& ec) {
            if (!ec && !c->open) {
                self->log->debug("tcp tunnel: no connection to {} within 3 s", to.to_string());
                self->remove(to, c);
            }
        });
        boost::system::error_code prep;
        if (to.address.is_v4()) open_shareable(c->socket, true, 0, prep);
        if (prep) log->debug("tcp tunnel: cannot prepare a shareable socket: {}", prep.message());
        c->socket.async_connect(to_asio(to), [self = shared_from_this(), to, c](const boost::system::error_code& ec) {
            if (ec) {
                self->log->debug("tcp tunnel: connect to {}: {}", to.to_string(), ec.message());
                return self->remove(to, c);
            }
            self->start(to, c);
        });
        return c;
    }

    // With c->lock held: appends one frame, or drops it when the connection already holds
    // max_queued_bytes; writes once write_size bytes are waiting.
    void append_locked(const endpoint& to, const std::shared_ptr<connection>& c, bytes_view payload) {
        const std::size_t frame = 2 + payload.size();
        if (c->backlog() + frame > max_queued_bytes) {
            write_locked(to, c);
            if (c->backlog() + frame > max_queued_bytes) return;
        }
        // What went out is dropped from the front before it grows (compacting only when that
        // moves less than it frees).
        if (c->written == c->queued.size()) {
            c->queued.clear();
            c->written = 0;
        } else if (c->written >= write_size && c->written >= c->backlog()) {
            c->queued.erase(c->queued.begin(), c->queued.begin() + static_cast<std::ptrdiff_t>(c->written));
            c->written = 0;
        }
        c->queued.push_back(static_cast<std::uint8_t>(payload.size() >> 8));
        c->queued.push_back(static_cast<std::uint8_t>(payload.size()));
        c->queued.insert(c->queued.end(), payload.begin(), payload.end());
        if (c->backlog() >= write_size) write_locked(to, c);
    }

    // With c->lock held, on any thread: writes what is queued until the kernel takes no
    // more; then the tunnel's thread waits until it can (or closes the connection on an error).
    void write_locked(const endpoint& to, const std::shared_ptr<connection>& c) {
        if (!c->open || c->waiting) return;
        while (c->backlog() > 0) {
            const auto n = ::send(c->fd, c->queued.data() + c->written, c->backlog(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0) {
                c->written += static_cast<std::size_t>(n);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->waiting = true;
                asio::post(io, [self = shared_from_this(), to, c] { self->wait_writable(to, c); });
            } else {
                c->open = false;
                asio::post(io, [self = shared_from_this(), to, c] { self->remove(to, c); });
            }
            return;
        }
        c->queued.clear();
        c->written = 0;
    }

    void wait_writable(const endpoint& to, const std::shared_ptr<connection>& c) {
        c->socket.async_wait(tcp::socket::wait_write, [self = shared_from_this(), to, c](const boost::system::error_code& e) {
            if (e == asio::error::operation_aborted) return;
            if (e) return self->remove(to, c);
            std::lock_guard lock(c->lock);
            c->waiting = false;
            self->write_locked(to, c);
        });
    }

    // Appends frames to their open connections and writes each connection once (mid-batch
    // too, every write_size bytes), on the calling thread; hands the others to the tunnel's.
    void send(std::vector<frame>& frames) {
        std::shared_ptr<connection> c;
        const endpoint* c_to = nullptr;
        std::vector<std::pair<endpoint, std::shared_ptr<connection>>> touched;
        std::vector<outgoing> later;
        for (auto& f : frames) {
            if (f.payload.size() > 0xffff) continue;
            if (!c_to || !(*c_to == f.to)) {
                c = find(f.to);
                c_to = &f.to;
            }
            if (c) {
                std::lock_guard lock(c->lock);
                if (c->open) {
                    append_locked(f.to, c, f.payload);
                    if (touched.empty() || touched.back().second != c) touched.emplace_back(f.to, c);
                    continue;
                }
            }
            later.push_back({f.to, std::move(f.payload), f.dial});
        }
        frames.clear();
        for (auto& [to, tc] : touched) {
            std::lock_guard lock(tc->lock);
            write_locked(to, tc);
        }
        if (later.empty()) return;
        bool first = false;
        {
            std::lock_guard lock(outbox_mutex);
            first = outbox.empty();
            for (auto& o : later) {
                if (outbox_bytes + o.payload.size() > max_outbox_bytes) break;
                outbox_bytes += o.payload.size();
                outbox.push_back(std::move(o));
            }
        }
        if (first) asio::post(io, [self = shared_from_this()] { self->take_outbox(); });
    }

    void punch(const endpoint& remote, std::uint16_t port, std::chrono::steady_clock::time_point deadline,
               std::function<void(bool)> done) {
        auto c = std::make_shared<connection>(io);
        boost::system::error_code ec;
        open_shareable(c->socket, remote.address.is_v4(), port, ec);
        if (ec || std::chrono::steady_clock::now() >= deadline) {
            if (ec) log->info("tcp punch to {}: cannot bind port {}: {}", remote.to_string(), port, ec.message());
            return done(false);
        }
        c->timer.expires_at(deadline);
        c->timer.async_wait([c](const boost::system::error_code& e) {
            boost::system::error_code ignored;
            if (!e && !c->open) c->socket.close(ignored);
        });
        c->socket.async_connect(to_asio(remote), [self = shared_from_this(), remote, port, deadline, c,
                                                  done = std::move(done)](const boost::system::error_code& e) mutable {
            c->timer.cancel();
            if (!e) {
                self->add(remote, c);
                self->start(remote, c);
                return done(true);
            }
            self->log->debug("tcp punch to {}: {}", remote.to_string(), e.message());
            if (std::chrono::steady_clock::now() + punch_retry >= deadline) return done(false);
            auto retry = std::make_shared<asio::steady_timer>(self->io, punch_retry);
            retry->async_wait([self, remote, port, deadline, retry, done = std::move(done)](const boost::system::error_code&) mutable {
                self->punch(remote, port, deadline, std::move(done));
            });
        });
    }

    deliver_fn deliver;
    logger_ptr log;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::optional<tcp::acceptor> acceptor;
    // Connections by remote endpoint: changed on the tunnel thread only, looked up from others.
    mutable std::mutex mutex;
    std::map<endpoint, std::shared_ptr<connection>> conns;
    // Frames queued by send(); one post drains all that gathered meanwhile. `taking` is
    // the tunnel thread's side of the swap, so both keep their capacity.
    std::mutex outbox_mutex;
    std::vector<outgoing> outbox;
    std::size_t outbox_bytes = 0;
    std::vector<outgoing> taking;
    std::atomic<std::uint64_t> accepted{0};
    std::thread thread;
};

tcp_tunnel::tcp_tunnel(deliver_fn deliver, logger_ptr log) : impl_(std::make_shared<impl>(std::move(deliver), std::move(log))) {
    impl_->start();
}

tcp_tunnel::~tcp_tunnel() { impl_->stop(); }

void tcp_tunnel::listen(const endpoint& bind_to) {
    tcp::acceptor a(impl_->io);
    const auto local = to_asio(bind_to);
    boost::system::error_code ec;
    a.open(local.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(local, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "tcp " + bind_to.to_string());
    asio::post(impl_->io, [self = impl_, a = std::move(a)]() mutable {
        self->acceptor.emplace(std::move(a));
        self->accept();
    });
}

bool tcp_tunnel::connected(const endpoint& to) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->conns.contains(to);
}

void tcp_tunnel::send(const endpoint& to, bytes payload, bool dial) {
    std::vector<frame> one;
    one.push_back({to, std::move(payload), dial});
    impl_->send(one);
}

void tcp_tunnel::send(std::vector<frame>& frames) { impl_->send(frames); }

void tcp_tunnel::punch(const endpoint& remote, std::optional<endpoint> via, std::uint16_t port, duration wait,
                       std::function<void(bool)> done) {
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait);
    asio::post(impl_->io, [self = impl_, remote, via, port, deadline, done = std::move(done)]() mutable {
        if (via) {
            std::shared_ptr<impl::connection> c;
            {
                std::lock_guard lock(self->mutex);
                if (auto it = self->conns.find(*via); it != self->conns.end()) c = it->second;
            }
            boost::system::error_code ec;
            const auto local = c ? c->socket.local_endpoint(ec) : tcp::endpoint();
            if (!c || ec) {
                self->log->info("tcp punch to {}: no connection to {} to punch from", remote.to_string(), via->to_string());
                return done(false);
            }
            port = local.port();
        }
        self->punch(remote, port, deadline, std::move(done));
    });
}

std::uint64_t tcp_tunnel::accepted() const { return impl_->accepted; }

} // namespace ovl::cli
