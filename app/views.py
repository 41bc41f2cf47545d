"""Every blueprint the app registers, one per API family."""
from app.chat.views import bp as chat_bp
from app.completions.views import bp as completions_bp
from app.embeddings.views import bp as embeddings_bp
from app.health.views import bp as health_bp
from app.keys.views import bp as keys_bp
from app.messages.views import bp as messages_bp
from app.metrics.views import bp as metrics_bp
from app.models.views import bp as models_bp
from app.responses.views import bp as responses_bp
from app.router.views import bp as router_bp

BLUEPRINTS = (chat_bp, embeddings_bp, completions_bp, models_bp, health_bp, metrics_bp,
               router_bp, keys_bp, messages_bp, responses_bp)
