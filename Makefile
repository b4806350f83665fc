# The two commands a newcomer needs (see README.md). Both install what is missing first.
.PHONY: run test lint bootstrap-run bootstrap-test

run: bootstrap-run
	.venv/bin/callcenter up

test: bootstrap-test
	.venv/bin/callcenter pbx install
	.venv/bin/ruff check callcenter tests bench
	.venv/bin/mypy callcenter
	.venv/bin/pytest -q

lint: bootstrap-test
	.venv/bin/ruff check callcenter tests bench
	.venv/bin/ruff format --check callcenter tests bench

bootstrap-run:
	@scripts/bootstrap.sh run

bootstrap-test:
	@scripts/bootstrap.sh test
