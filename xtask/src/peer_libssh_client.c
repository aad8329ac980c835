/*
 * xtask's libssh client: one exec through libssh.so.4, for the interop
 * rows `libssh>rsshd:*` (built with `cc` against libssh-dev by
 * xtask/src/peer_libssh.rs, run inside each Debian image with its own
 * libssh-4).
 *
 * usage: libssh-client -p PORT -u USER -k KNOWN_HOSTS
 *                      (-i KEY | -w PASSWORD_FILE) [-t]
 *                      [-x KEX] [-c CIPHERS] [-m MACS] [-h HOSTKEYS]
 *                      HOST COMMAND
 *
 * The server's key must be in KNOWN_HOSTS. Standard input goes to the
 * command, its stdout and stderr come back apart; the exit status is the
 * command's (255 for any failure here, as ssh). -t asks for a 33x101
 * pseudo-terminal.
 */
#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(ssh_session s, const char *what)
{
    fprintf(stderr, "libssh-client: %s: %s\n", what,
            s ? ssh_get_error(s) : "failed");
    return 255;
}

/* Reads all of fd into a malloc'd buffer. */
static char *slurp(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            return NULL;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *port = NULL, *user = NULL, *known = NULL, *key = NULL;
    const char *pwfile = NULL, *kex = NULL, *ciphers = NULL, *macs = NULL;
    const char *hostkeys = NULL;
    int pty = 0, opt;
    while ((opt = getopt(argc, argv, "p:u:k:i:w:tx:c:m:h:")) != -1) {
        switch (opt) {
        case 'p': port = optarg; break;
        case 'u': user = optarg; break;
        case 'k': known = optarg; break;
        case 'i': key = optarg; break;
        case 'w': pwfile = optarg; break;
        case 't': pty = 1; break;
        case 'x': kex = optarg; break;
        case 'c': ciphers = optarg; break;
        case 'm': macs = optarg; break;
        case 'h': hostkeys = optarg; break;
        default: return 255;
        }
    }
    if (optind + 2 != argc || !port || !user || !known || (!key && !pwfile)) {
        fprintf(stderr, "libssh-client: bad arguments\n");
        return 255;
    }
    const char *host = argv[optind], *command = argv[optind + 1];

    ssh_session s = ssh_new();
    if (s == NULL)
        return fail(NULL, "ssh_new");
    unsigned int portnum = (unsigned int)atoi(port);
    int no = 0;
    int verbosity = getenv("LIBSSH_CLIENT_DEBUG") ? SSH_LOG_PROTOCOL : SSH_LOG_NOLOG;
    if (ssh_options_set(s, SSH_OPTIONS_HOST, host) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_PORT, &portnum) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_USER, user) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0 ||
        ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
        ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0)
        return fail(s, "setting options");
    if (kex && ssh_options_set(s, SSH_OPTIONS_KEY_EXCHANGE, kex) < 0)
        return fail(s, "setting the key exchange");
    if (ciphers && (ssh_options_set(s, SSH_OPTIONS_CIPHERS_C_S, ciphers) < 0 ||
                    ssh_options_set(s, SSH_OPTIONS_CIPHERS_S_C, ciphers) < 0))
        return fail(s, "setting the ciphers");
    if (macs && (ssh_options_set(s, SSH_OPTIONS_HMAC_C_S, macs) < 0 ||
                 ssh_options_set(s, SSH_OPTIONS_HMAC_S_C, macs) < 0))
        return fail(s, "setting the MACs");
    if (hostkeys && ssh_options_set(s, SSH_OPTIONS_HOSTKEYS, hostkeys) < 0)
        return fail(s, "setting the host key algorithms");

    if (ssh_connect(s) != SSH_OK)
        return fail(s, "connecting");
    enum ssh_known_hosts_e known_state = ssh_session_is_known_server(s);
    if (known_state != SSH_KNOWN_HOSTS_OK) {
        fprintf(stderr, "libssh-client: host key not accepted (state %d)\n",
                (int)known_state);
        return 255;
    }
    if (key) {
        ssh_key k = NULL;
        if (ssh_pki_import_privkey_file(key, NULL, NULL, NULL, &k) != SSH_OK)
            return fail(s, "reading the key");
        if (ssh_userauth_publickey(s, NULL, k) != SSH_AUTH_SUCCESS)
            return fail(s, "publickey authentication");
        ssh_key_free(k);
    } else {
        FILE *f = fopen(pwfile, "r");
        char pw[256] = {0};
        if (f == NULL || fgets(pw, sizeof pw, f) == NULL)
            return fail(NULL, "reading the password file");
        fclose(f);
        pw[strcspn(pw, "\n")] = 0;
        if (ssh_userauth_password(s, NULL, pw) != SSH_AUTH_SUCCESS)
            return fail(s, "password authentication");
    }

    ssh_channel ch = ssh_channel_new(s);
    if (ch == NULL || ssh_channel_open_session(ch) != SSH_OK)
        return fail(s, "opening a session channel");
    if (pty && ssh_channel_request_pty_size(ch, "xterm", 101, 33) != SSH_OK)
        return fail(s, "requesting a pty");
    if (ssh_channel_request_exec(ch, command) != SSH_OK)
        return fail(s, "exec");

    size_t len = 0, sent = 0;
    char *input = slurp(0, &len);
    if (input == NULL)
        return fail(NULL, "reading stdin");
    char buf[32768];
    int eof_sent = 0;
    for (;;) {
        if (sent < len) {
            uint32_t window = ssh_channel_window_size(ch);
            size_t n = len - sent;
            if (n > window)
                n = window;
            if (n > sizeof buf)
                n = sizeof buf;
            if (n > 0) {
                int w = ssh_channel_write(ch, input + sent, (uint32_t)n);
                if (w < 0)
                    return fail(s, "writing to the channel");
                sent += (size_t)w;
            }
        } else if (!eof_sent) {
            if (ssh_channel_send_eof(ch) != SSH_OK)
                return fail(s, "sending EOF");
            eof_sent = 1;
        }
        int busy = 0;
        for (int is_stderr = 0; is_stderr <= 1; is_stderr++) {
            int r = ssh_channel_read_timeout(ch, buf, sizeof buf, is_stderr,
                                             sent < len ? 0 : 10);
            if (r == SSH_ERROR)
                return fail(s, "reading from the channel");
            if (r > 0) {
                busy = 1;
                if (write_all(is_stderr ? 2 : 1, buf, (size_t)r) < 0)
                    return fail(NULL, "writing output");
            }
        }
        if (!busy && eof_sent && ssh_channel_is_eof(ch))
            break;
    }
    free(input);
    int status = ssh_channel_get_exit_status(ch);
    ssh_channel_close(ch);
    ssh_channel_free(ch);
    ssh_disconnect(s);
    ssh_free(s);
    return status < 0 ? 255 : status;
}
