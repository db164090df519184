"""The application factory: wiring only."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider
from flask_openapi3 import Info, OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

import backend.cache as cache
import backend.cli as cli
import backend.db as db
import backend.errors as errors
import backend.request_log as request_log
from backend.clock import SystemClock
from backend.config import Config
from backend.queue import SESSION_KEY, JobQueue

API_INFO = Info(
    title="青浦城管进社区 API",
    version="1",
    description="小程序与值守系统接口。错误响应统一为 {code, message, description, errors?}，message 为可直接展示的中文。",
)


class JSONProvider(DefaultJSONProvider):
    """Chinese as is, keys in the order the schemas give them, and a body nested past Python's recursion
    limit read as invalid JSON (a 400) instead of a RecursionError (a 500)."""

    ensure_ascii = False
    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def create_app(overrides: dict[str, Any] | None = None) -> OpenAPI:
    config = Config.from_env(**(overrides or {}))
    request_log.configure_logging(config.LOG_LEVEL)

    app = OpenAPI(
        __name__,
        info=API_INFO,
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer", "description": "登录接口返回的令牌"}
        },
        doc_prefix="/api",
        doc_url="/openapi.json",
        validation_error_status=400,
        validation_error_model=errors.ErrorBody,
        validation_error_callback=errors.validation_error_response,
    )
    app.config.update(
        SECRET_KEY=config.SECRET_KEY,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        QINGPU=config,
        # every Flask-Limiter of the app (the console's logins, the mini-program's binding codes) counts in
        # Redis when there is one, so that every process counts the same attempts
        RATELIMIT_STORAGE_URI=config.REDIS_URL or "memory://",
        RATELIMIT_KEY_PREFIX="qingpu-limits",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if config.PROXY_COUNT:
        # the client's address (audit trail, login rate limit) and scheme as the trusted proxies saw them
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.PROXY_COUNT, x_proto=config.PROXY_COUNT
        )
    app.json = JSONProvider(app)

    if config.database_url.startswith("sqlite"):
        config.instance_dir.mkdir(parents=True, exist_ok=True)
    app.extensions["clock"] = SystemClock()
    job_queue = JobQueue(config.REDIS_URL, config.RQ_QUEUE)
    app.extensions["job_queue"] = job_queue
    cache.CHECK_SECONDS = config.CACHE_CHECK_SECONDS
    engine = db.create_db_engine(config.database_url, pool_recycle=config.DATABASE_POOL_RECYCLE)
    db.init_app(app, engine, info={SESSION_KEY: job_queue})
    if config.DATABASE_REPLICA_URL:
        replica = db.create_db_engine(config.DATABASE_REPLICA_URL, pool_recycle=config.DATABASE_POOL_RECYCLE)
        db.init_replica(app, replica)

    if config.wechat_configured:
        from backend.wechat import WeChatGateway

        app.extensions["wechat"] = WeChatGateway(
            config.WECHAT_APP_ID,
            config.WECHAT_APP_SECRET,
            base_url=config.WECHAT_API_BASE_URL,
            redis=job_queue.redis,
        )
    from backend.chat.store import ConversationStore
    from backend.uploads.storage import LocalStorage

    app.extensions["chat_store"] = ConversationStore(job_queue.redis, config.CHAT_TTL_SECONDS)

    app.extensions["storage"] = LocalStorage(config.upload_dir)

    request_log.init_app(app)
    errors.register_error_handlers(app)
    from backend.taxonomy.services import label_categories

    label_categories(config.content_dir)

    # The composition root is the one place that knows every HTTP package.
    from backend.health import health_api
    from miniprogram_api import dev_api, mp_api

    for api in (health_api, mp_api):
        app.register_api(api)
    from backend.hotline.api import hotline_api

    app.register_api(hotline_api)
    from backend.open311.api import open311_api

    app.register_api(open311_api)
    if config.embedded and not config.wechat_configured:
        app.register_api(dev_api)  # the development login exists only on the embedded defaults
    import backend.console as console
    from backend.wechat.callback import wechat_bp

    app.register_blueprint(wechat_bp)
    console.init_app(app)
    cli.init_app(app)
    return app
