#!/bin/sh
echo make
