from setuptools import setup

setup(
    name="sifu-xblock",
    version="0.1.0",
    description="A learner's own Jupyter notebook, served by Sifu, inside an Open edX course unit",
    packages=["sifu_xblock"],
    install_requires=["XBlock"],
    entry_points={"xblock.v1": ["sifu_notebook = sifu_xblock.block:SifuNotebookXBlock"]},
)
