from xinyidai import create_app

app = create_app()
