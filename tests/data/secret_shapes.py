"""Generated secrets of many shapes, for tests and `python -m bench secrets`.

Nothing here is a real secret, and the source holds no secret-shaped string: every key is drawn
at run time from a seeded generator, so a scanner (GitHub push protection included) finds only
prefixes and alphabets in this file. Each shape returns a line or a few lines of text in a
plausible context and the secret inside it, which must not survive masking.
"""

# ruff: noqa: E501  (the table of shapes reads best one shape a line)
from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SHAPES", "Sample", "Shape", "samples"]

HEX = "0123456789abcdef"
DIGITS = string.digits
ALNUM = string.ascii_letters + string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
LETTERS = string.ascii_letters
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
PASSWORD_SYMBOLS = "!@#%^&*-_+=.~"
DJANGO = string.ascii_lowercase + string.digits + "!@#%^&*(-_=+)"


@dataclass(frozen=True)
class Sample:
    text: str
    secret: str


Make = Callable[[random.Random], Sample]


@dataclass(frozen=True)
class Shape:
    category: str
    name: str
    make: Make


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def password(rng: random.Random, n: int = 12) -> str:
    """A generated password: letters, digits and symbols, each class present."""
    while True:
        value = _r(rng, ALNUM + PASSWORD_SYMBOLS, n)
        if (
            any(c.islower() for c in value)
            and any(c.isupper() for c in value)
            and any(c.isdigit() for c in value)
            and any(c in PASSWORD_SYMBOLS for c in value)
        ):
            return value


def url_password(rng: random.Random) -> str:
    """A generated password made of characters a URL carries without escaping."""
    return _r(rng, ALNUM, 10) + rng.choice("-_.~!*") + _r(rng, ALNUM, 3)


def hex20(rng: random.Random) -> str:
    return _r(rng, HEX, 20)


# Values a developer pastes after `password=` or `API_KEY=`: the two the issue measured (random
# 20-hex values and 12-character passwords) and the usual key encodings.
VALUES: dict[str, Callable[[random.Random], str]] = {
    "password-12": password,
    "hex-20": hex20,
    "hex-32": lambda rng: _r(rng, HEX, 32),
    "alnum-24": lambda rng: _r(rng, ALNUM, 24),
    "base64-44": lambda rng: base64.b64encode(rng.randbytes(32)).decode(),
    "password-16": lambda rng: password(rng, 16),
}


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# Neutral places for a free-standing token: no secret-looking name helps find it.
TOKEN_CONTEXTS = (
    'client = Client("@@")',
    "const client = new Client('@@');",
    "service:\n  endpoint: https://api.example.com\n  value: @@",
    "SETTING_A=@@",
    '{"account": "acme", "value": "@@"}',
    "# staging account: @@",
    'curl -H "X-Custom: @@" https://api.example.com/v1/items',
    "    run(['deploy', '--with', '@@'])",
)


def token(maker: Callable[[random.Random], str]) -> Make:
    def make(rng: random.Random) -> Sample:
        secret = maker(rng)
        return Sample(rng.choice(TOKEN_CONTEXTS).replace("@@", secret), secret)

    return make


def fixed(template: str, maker: Callable[[random.Random], str]) -> Make:
    """`template` with `@@` replaced by the secret."""

    def make(rng: random.Random) -> Sample:
        secret = maker(rng)
        return Sample(template.replace("@@", secret), secret)

    return make


def assigned(*templates: str) -> Make:
    """A secret-looking name given one of `VALUES` in one of `templates`."""

    def make(rng: random.Random) -> Sample:
        secret = VALUES[rng.choice(sorted(VALUES))](rng)
        return Sample(rng.choice(templates).replace("@@", secret), secret)

    return make


def _pem(label: str, size: int, *, escaped: bool = False, end: bool = True) -> Make:
    def make(rng: random.Random) -> Sample:
        body = base64.b64encode(rng.randbytes(size)).decode()
        lines = [f"-----BEGIN {label}-----"]
        lines += [body[i : i + 64] for i in range(0, len(body), 64)]
        if end:
            lines.append(f"-----END {label}-----")
        if escaped:
            key = "\\n".join(lines) + "\\n"
            text = '{"type": "service_account", "private_key_id": "k1", "private_key": "@@"}'
            return Sample(text.replace("@@", key), key)
        key = "\n".join(lines)
        return Sample(f"# deploy key\n{key}\n", key)

    return make


def _putty(rng: random.Random) -> Sample:
    private = base64.b64encode(rng.randbytes(600)).decode()
    private_lines = [private[i : i + 64] for i in range(0, len(private), 64)]
    public = base64.b64encode(rng.randbytes(270)).decode()
    text = "\n".join(
        [
            "PuTTY-User-Key-File-3: ssh-rsa",
            "Encryption: none",
            "Comment: deploy",
            "Public-Lines: 5",
            *[public[i : i + 64] for i in range(0, len(public), 64)],
            f"Private-Lines: {len(private_lines)}",
            *private_lines,
            mac := "Private-MAC: " + _r(rng, HEX, 64),
        ]
    )
    return Sample(text, "\n".join([*private_lines, mac]))


def _jwt(rng: random.Random) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": _r(rng, DIGITS, 10), "iat": rng.randrange(1_600_000_000, 1_800_000_000)})
    return f"{header}.{payload}.{_r(rng, B64URL, 43)}"


def _basic(rng: random.Random) -> Sample:
    encoded = base64.b64encode(f"deploy:{password(rng)}".encode()).decode()
    return Sample(f"Authorization: Basic {encoded}", encoded)


def _prefixed(prefix: str, alphabet: str, n: int, suffix: str = "") -> Make:
    """A free-standing token: `prefix`, `n` characters of `alphabet`, then `suffix`."""
    return token(lambda r: prefix + _r(r, alphabet, n) + suffix)


def _join(*parts: str | tuple[str, int]) -> Make:
    """A free-standing token of literal parts and (alphabet, length) random parts."""
    return token(lambda r: "".join(p if isinstance(p, str) else _r(r, *p) for p in parts))


BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
AZURE = ALNUM + "_~.-"
SAS_URL = (
    "https://acme.blob.core.windows.net/uploads/report.csv?sv=2022-11-02&ss=b&srt=co&sp=rl"
    "&se=2027-01-01T00:00:00Z&spr=https&sig=@@"
)
TEAMS = "TEAMS = 'https://acme.webhook.office.com/webhookb2/@@'"
DISCORD = "HOOK = 'https://discord.com/api/webhooks/" + "1234567890" + "12345678/@@'"
AZURE_CONN = "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=@@;EndpointSuffix=x.net"
ADO = '"Server=tcp:sql.example.com;Database=app;User Id=sa;Password=@@;"'
JDBC = "spring.datasource.url=jdbc:mysql://db:3306/app?user=app&password=@@"


def _b64(size: int) -> Callable[[random.Random], str]:
    return lambda r: base64.b64encode(r.randbytes(size)).decode()


def _teams(r: random.Random) -> str:
    return f"{_uuid(r)}@{_uuid(r)}/IncomingWebhook/{_r(r, HEX, 32)}/{_uuid(r)}"


def _sig(r: random.Random) -> str:
    return urllib.parse.quote(base64.b64encode(r.randbytes(32)).decode(), safe="")


# fmt: off
SHAPES: tuple[Shape, ...] = tuple(Shape(*row) for row in (
    # cloud
    ("cloud", "aws-access-key-id", _prefixed("AKIA", BASE32, 16)),
    ("cloud", "aws-sts-key-id", _prefixed("ASIA", BASE32, 16)),
    ("cloud", "aws-secret-access-key", fixed("aws_secret_access_key = @@", lambda r: _r(r, B64, 40))),
    ("cloud", "aws-secret-in-code", fixed('AWS_SECRET = "@@"', lambda r: _r(r, B64, 40))),
    ("cloud", "aws-session-token", fixed("aws_session_token = IQoJb3JpZ2luX2Vj@@", lambda r: _r(r, B64, 300))),
    ("cloud", "google-api-key", _prefixed("AIza", B64URL, 35)),
    ("cloud", "google-oauth-client-secret", _prefixed("GOCSPX-", B64URL, 28)),
    ("cloud", "google-oauth-access-token", _prefixed("ya29.", B64URL, 120)),
    ("cloud", "gcp-service-account-key", _pem("PRIVATE KEY", 1200, escaped=True)),
    ("cloud", "azure-storage-connection-string", fixed(AZURE_CONN, _b64(64))),
    ("cloud", "azure-sas-token", fixed(SAS_URL, _sig)),
    ("cloud", "azure-client-secret", _join((ALNUM, 3), (DIGITS, 1), "Q~", (AZURE, 34))),
    ("cloud", "digitalocean-pat", _prefixed("dop_v1_", HEX, 64)),
    ("cloud", "digitalocean-oauth", _prefixed("doo_v1_", HEX, 64)),
    ("cloud", "alibaba-access-key", _prefixed("LTAI", ALNUM, 20)),
    ("cloud", "heroku-api-key", fixed("HEROKU_API_KEY=@@", _uuid)),
    # source hosting and CI
    ("vcs", "github-classic-pat", _prefixed("ghp_", ALNUM, 36)),
    ("vcs", "github-oauth-token", _prefixed("gho_", ALNUM, 36)),
    ("vcs", "github-app-token", _prefixed("ghs_", ALNUM, 36)),
    ("vcs", "github-fine-grained-pat", _join("github_pat_", (ALNUM, 22), "_", (ALNUM, 59))),
    ("vcs", "gitlab-pat", _prefixed("glpat-", B64URL, 20)),
    ("vcs", "gitlab-runner-token", _prefixed("GR1348941", B64URL, 20)),
    ("vcs", "gitlab-trigger-token", _prefixed("glptt-", HEX, 40)),
    ("vcs", "gitlab-deploy-token", _prefixed("gldt-", B64URL, 20)),
    ("vcs", "atlassian-api-token", _prefixed("ATATT3xFfGF0", B64URL, 180)),
    # package registries
    ("registry", "npm-token", _prefixed("npm_", ALNUM, 36)),
    ("registry", "npmrc-legacy-auth-token", fixed("//npm.registry.example/:_authToken=@@", _uuid)),
    ("registry", "pypi-token", _prefixed("pypi-AgEIcHlwaS5vcmc", B64URL, 150)),
    ("registry", "test-pypi-token", _prefixed("pypi-AgENdGVzdC5weXBpLm9yZw", B64URL, 150)),
    ("registry", "rubygems-key", _prefixed("rubygems_", HEX, 48)),
    ("registry", "docker-hub-pat", _prefixed("dckr_pat_", B64URL, 27)),
    # AI providers
    ("ai", "openai-project-key", _prefixed("sk-proj-", B64URL, 120)),
    ("ai", "openai-legacy-key", _join("sk-", (ALNUM, 20), "T3BlbkFJ", (ALNUM, 20))),
    ("ai", "openai-service-account-key", _prefixed("sk-svcacct-", B64URL, 120)),
    ("ai", "anthropic-api-key", _prefixed("sk-ant-api03-", B64URL, 93, "AA")),
    ("ai", "anthropic-admin-key", _prefixed("sk-ant-admin01-", B64URL, 93, "AA")),
    ("ai", "huggingface-token", _prefixed("hf_", LETTERS, 34)),
    ("ai", "replicate-token", _prefixed("r8_", ALNUM, 37)),
    ("ai", "groq-key", _prefixed("gsk_", ALNUM, 52)),
    ("ai", "perplexity-key", _prefixed("pplx-", ALNUM, 48)),
    ("ai", "xai-key", _prefixed("xai-", ALNUM, 80)),
    ("ai", "deepseek-key", _prefixed("sk-", HEX, 32)),
    ("ai", "mistral-key", assigned("MISTRAL_API_KEY=@@", 'mistral = Mistral(api_key="@@")')),
    # payments and commerce
    ("payments", "stripe-live-secret", _prefixed("sk_live_51", ALNUM, 97)),
    ("payments", "stripe-test-secret", _prefixed("sk_test_51", ALNUM, 97)),
    ("payments", "stripe-restricted-key", _prefixed("rk_live_", ALNUM, 24)),
    ("payments", "stripe-webhook-secret", _prefixed("whsec_", ALNUM, 32)),
    ("payments", "square-access-token", _prefixed("sq0atp-", B64URL, 22)),
    ("payments", "square-oauth-secret", _prefixed("sq0csp-", B64URL, 43)),
    ("payments", "shopify-admin-token", _prefixed("shpat_", HEX, 32)),
    ("payments", "shopify-shared-secret", _prefixed("shpss_", HEX, 32)),
    ("payments", "braintree-token", _join("access_token$production$", (LOWER_ALNUM, 16), "$", (HEX, 32))),
    ("payments", "mailchimp-key", _join((HEX, 32), "-us", ("123456789", 1))),
    # messaging and webhooks
    ("messaging", "slack-bot-token", _join("xoxb-", (DIGITS, 12), "-", (DIGITS, 13), "-", (ALNUM, 24))),
    ("messaging", "slack-user-token", _join("xoxp-", (DIGITS, 12), "-", (DIGITS, 13), "-", (HEX, 32))),
    ("messaging", "slack-app-token", _join("xapp-1-A", (UPPER_ALNUM, 10), "-", (DIGITS, 13), "-", (HEX, 64))),
    ("messaging", "slack-webhook", _join(
        "https://hooks.slack.com/services/T", (UPPER_ALNUM, 10), "/B", (UPPER_ALNUM, 10), "/", (ALNUM, 24)
    )),
    ("messaging", "discord-bot-token", _join(("MNO", 1), (B64URL, 23), ".", (B64URL, 6), ".", (B64URL, 27))),
    ("messaging", "discord-webhook", fixed(DISCORD, lambda r: _r(r, B64URL, 68))),
    ("messaging", "telegram-bot-token", _join(("123456789", 1), (DIGITS, 9), ":AA", (B64URL, 33))),
    ("messaging", "twilio-api-key", _prefixed("SK", HEX, 32)),
    ("messaging", "twilio-account-sid", _prefixed("AC", HEX, 32)),
    ("messaging", "twilio-auth-token", fixed("TWILIO_AUTH_TOKEN=@@", lambda r: _r(r, HEX, 32))),
    ("messaging", "sendgrid-key", _join("SG.", (B64URL, 22), ".", (B64URL, 43))),
    ("messaging", "mailgun-key", _prefixed("key-", HEX, 32)),
    ("messaging", "teams-webhook", fixed(TEAMS, _teams)),
    # private keys
    ("private-key", "rsa-pkcs1", _pem("RSA PRIVATE KEY", 1190)),
    ("private-key", "pkcs8", _pem("PRIVATE KEY", 1216)),
    ("private-key", "ec", _pem("EC PRIVATE KEY", 121)),
    ("private-key", "openssh", _pem("OPENSSH PRIVATE KEY", 400)),
    ("private-key", "encrypted-pkcs8", _pem("ENCRYPTED PRIVATE KEY", 1250)),
    ("private-key", "dsa", _pem("DSA PRIVATE KEY", 440)),
    ("private-key", "pgp", _pem("PGP PRIVATE KEY BLOCK", 900)),
    ("private-key", "pem-cut-short", _pem("RSA PRIVATE KEY", 600, end=False)),
    ("private-key", "putty-private-key", _putty),
    # HTTP credentials
    ("http-auth", "jwt", token(_jwt)),
    ("http-auth", "basic-auth-header", _basic),
    ("http-auth", "bearer-header", fixed("Authorization: Bearer @@", lambda r: _r(r, B64URL, 40))),
    ("http-auth", "bearer-in-code", fixed('headers = {"Authorization": "Bearer @@"}', lambda r: _r(r, ALNUM, 32))),
    ("http-auth", "requests-auth-tuple", fixed('requests.get(url, auth=("admin", "@@"))', password)),
    ("http-auth", "token-header", fixed("curl -H 'Authorization: token @@' https://x.io", lambda r: _r(r, HEX, 40))),
    # credentials in URLs and connection strings
    ("url", "postgres-url", fixed("DATABASE_URL=postgres://app:@@@db.internal:5432/app", url_password)),
    ("url", "mysql-url", fixed('create_engine("mysql+pymysql://root:@@@localhost/shop")', url_password)),
    ("url", "mongodb-srv-url", fixed("MONGO='mongodb+srv://admin:@@@cluster0.ab1cd.mongodb.net/app'", url_password)),
    ("url", "amqp-url", fixed("broker_url = 'amqp://worker:@@@mq:5672//'", url_password)),
    ("url", "redis-password-only", fixed("REDIS_URL=redis://:@@@cache:6379/0", url_password)),
    ("url", "https-credentials", fixed("git clone https://deploy:@@@git.example.com/acme/app.git", url_password)),
    ("url", "jdbc-password-param", fixed(JDBC, url_password)),
    ("url", "ado-connection-string", fixed(ADO, password)),
    ("url", "url-access-token", fixed("fetch('https://x.io/v1/items?access_token=@@')", lambda r: _r(r, ALNUM, 32))),
    # values given to secret-looking names, in many syntaxes
    ("assigned", "python-constant", assigned('DB_PASSWORD = "@@"', 'SECRET_KEY = "@@"', "API_TOKEN = '@@'")),
    ("assigned", "python-annotated", assigned('client_secret: str = "@@"', 'api_key: Final = "@@"')),
    ("assigned", "python-kwarg", assigned('connect(host="db", password="@@")', 'Client(api_key="@@", timeout=5)')),
    ("assigned", "python-dict", assigned('CONFIG = {"db_password": "@@", "debug": False}', "cfg['secret_key'] = '@@'")),
    ("assigned", "dotenv", assigned("DB_PASS=@@", "export API_SECRET=@@", "STRIPE_KEY=@@  # live")),
    ("assigned", "yaml", assigned("database:\n  password: @@", "auth:\n  client_secret: '@@'", '  api_key: "@@"')),
    ("assigned", "json", assigned('{"clientSecret": "@@"}', '{"auth": {"password": "@@"}}')),
    ("assigned", "javascript", assigned("const apiKey = '@@';", 'export const JWT_SECRET = "@@";')),
    ("assigned", "js-object", assigned("module.exports = { dbPassword: '@@' };")),
    ("assigned", "typescript", assigned('private readonly secretKey: string = "@@";')),
    ("assigned", "go", assigned('apiKey := "@@"', '\tPassword: "@@",')),
    ("assigned", "java", assigned('private static final String API_KEY = "@@";', 'String password = "@@";')),
    ("assigned", "csharp", assigned('var clientSecret = "@@";', 'options.ApiKey = "@@";')),
    ("assigned", "ruby", assigned("config.secret_key_base = '@@'", ":password => '@@',")),
    ("assigned", "php", assigned("define('DB_PASSWORD', '@@');", "$apiKey = '@@';", "'password' => '@@',")),
    ("assigned", "xml", assigned("<password>@@</password>", '<add key="ApiSecret" value="@@" />')),
    ("assigned", "properties", assigned("spring.datasource.password=@@", "db.password = @@")),
    ("assigned", "ini-toml", assigned("[database]\npassword = @@", 'token = "@@"')),
    ("assigned", "dockerfile", assigned("ENV DB_PASSWORD=@@", "ENV API_TOKEN @@")),
    ("assigned", "compose", assigned("    environment:\n      - POSTGRES_PASSWORD=@@")),
    ("assigned", "terraform", assigned('  password = "@@"', '  secret_key = "@@"')),
    ("assigned", "shell-flag", assigned("./manage --password=@@", "deploy --api-key @@")),
    ("assigned", "comparison", assigned('if token == "@@":', "if (apiKey === '@@') {")),
    ("assigned", "netrc", fixed("machine api.example.com login bob password @@", password)),
    ("assigned", "mysql-cli", fixed("mysql -u root -p@@ shop < dump.sql", lambda r: _r(r, ALNUM, 14))),
    ("assigned", "django-secret-key", fixed("SECRET_KEY = 'django-insecure-@@'", lambda r: _r(r, DJANGO, 50))),
    ("assigned", "flask-secret-key", fixed("app.secret_key = '@@'", lambda r: _r(r, HEX, 48))),
    ("assigned", "fernet-key", fixed('ENCRYPTION_KEY = b"@@"', lambda r: base64.urlsafe_b64encode(r.randbytes(32)).decode())),
    ("assigned", "hex-private-key", fixed("PRIVATE_KEY=0x@@", lambda r: _r(r, HEX, 64))),
))
# fmt: on


def samples(shape: Shape, count: int, seed: int = 0) -> list[Sample]:
    """`count` samples of `shape`, the same for the same seed."""
    rng = random.Random(f"{seed}:{shape.name}")
    return [shape.make(rng) for _ in range(count)]
