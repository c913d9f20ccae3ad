"""A Flask landing with leadkit: the order form is one line in the template.

Run it (from the repository): see README.md beside this file.
"""

import os
from pathlib import Path

from flask import Flask, render_template

from leadkit.flask import init_app

HERE = Path(__file__).resolve().parent

app = Flask(__name__)
init_app(app, config=os.environ.get("LEADKIT_CONFIG", HERE / "leadkit.toml"),
         # The network and the journal may come from the environment, so that the same app runs
         # against a real network, the sandbox, or in the tests.
         network={"api": os.environ.get("LEADKIT_API", "https://lk.dalead.pro/api")},
         journal={"path": os.environ.get("LEADKIT_JOURNAL", str(HERE / "leadkit.db"))})


@app.route("/")
def landing() -> str:
    return render_template("landing.html")


@app.route("/article")
def prelanding() -> str:
    return render_template("article.html")
