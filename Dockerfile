# kubelite: one image for every process (API server, controllers, node agents, DNS).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY apimachinery apimachinery
COPY apiserver apiserver
COPY kubeclient kubeclient
COPY controllers controllers
COPY agents agents
COPY servers servers
COPY migrations migrations
COPY kubelite kubelite
RUN pip install --no-cache-dir '.[postgres]'
ENTRYPOINT ["kubelite"]
