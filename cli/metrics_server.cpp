#include "cli/metrics_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <array>
#include <mutex>
#include <system_error>
#include <thread>

namespace ovl::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

// A scraper gets this long to send its request and read the answer.
constexpr auto exchange_timeout = std::chrono::seconds(10);

tcp::endpoint to_asio(const endpoint& ep) {
    if (ep.address.is_v4()) return {asio::ip::address_v4(ep.address.v4_value()), ep.port};
    asio::ip::address_v6::bytes_type b{};
    std::copy_n(ep.address.data(), b.size(), b.begin());
    return {asio::ip::address_v6(b), ep.port};
}

} // namespace

struct metrics_server::impl {
    // One request, one answer, then the connection closes: scrapes are rare and small.
    struct exchange : std::enable_shared_from_this<exchange> {
        exchange(tcp::socket s, impl& o) : stream(std::move(s)), owner(o) {}

        void start() {
            stream.expires_after(exchange_timeout);
            http::async_read(stream, buffer, request, [self = shared_from_this()](beast::error_code ec, std::size_t) {
                if (!ec) self->answer();
            });
        }

        void answer() {
            response.version(request.version());
            response.keep_alive(false);
            if (request.method() != http::verb::get) {
                response.result(http::status::method_not_allowed);
                response.body() = "only GET\n";
            } else if (request.target() != "/metrics") {
                response.result(http::status::not_found);
                response.body() = "metrics are at /metrics\n";
            } else {
                response.result(http::status::ok);
                response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
                std::lock_guard lock(owner.mutex);
                response.body() = owner.text;
            }
            response.prepare_payload();
            http::async_write(stream, response, [self = shared_from_this()](beast::error_code, std::size_t) {
                beast::error_code ignored;
                self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            });
        }

        beast::tcp_stream stream;
        impl& owner;
        beast::flat_buffer buffer;
        http::request<http::string_body> request;
        http::response<http::string_body> response;
    };

    impl(const endpoint& bind, logger_ptr l) : log(std::move(l)), acceptor(io) {
        boost::system::error_code ec;
        const auto local = to_asio(bind);
        acceptor.open(local.protocol(), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec) acceptor.bind(local, ec);
        if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) throw std::system_error(std::error_code(ec.value(), std::system_category()), "bind " + bind.to_string());
        accept();
        thread = std::thread([this] { io.run(); });
    }

    ~impl() {
        io.stop();
        thread.join();
    }

    void accept() {
        acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted) return;
            if (ec)
                log->debug("metrics: accept failed: {}", ec.message());
            else
                std::make_shared<exchange>(std::move(socket), *this)->start();
            accept();
        });
    }

    logger_ptr log;
    asio::io_context io;
    tcp::acceptor acceptor;
    std::mutex mutex;
    std::string text;
    std::thread thread;
};

metrics_server::metrics_server(const endpoint& bind, logger_ptr log) : impl_(std::make_unique<impl>(bind, std::move(log))) {}

metrics_server::~metrics_server() = default;

endpoint metrics_server::local_endpoint() const {
    const auto ep = impl_->acceptor.local_endpoint();
    const auto a = ep.address();
    if (a.is_v4()) return {ip_address::v4(a.to_v4().to_uint()), ep.port()};
    const auto raw = a.to_v6().to_bytes();
    std::array<std::uint8_t, 16> b{};
    std::copy(raw.begin(), raw.end(), b.begin());
    return {ip_address::v6(b), ep.port()};
}

void metrics_server::publish(std::string text) {
    std::lock_guard lock(impl_->mutex);
    impl_->text = std::move(text);
}

} // namespace ovl::cli
